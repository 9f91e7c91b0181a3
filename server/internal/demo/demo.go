// Package demo loads the demo district that `make run` serves: Xuecheng
// (薛城区, 370403) with its seven townships and streets and a few villages
// in each, so that a new user has something real to look at.
package demo

import (
	"context"
	"fmt"

	"villagesync/server/internal/store"
)

// DistrictCode is Xuecheng's administrative division code.
const DistrictCode = "370403"

// Townships are Xuecheng's townships and streets. The codes follow the
// statistical division scheme (district code + 3 digits); they are demo
// data, not an authoritative list.
var Townships = []store.Township{
	{Code: "370403001", Name: "临城街道"},
	{Code: "370403002", Name: "常庄街道"},
	{Code: "370403003", Name: "巨山街道"},
	{Code: "370403101", Name: "沙沟镇"},
	{Code: "370403102", Name: "周营镇"},
	{Code: "370403103", Name: "邹坞镇"},
	{Code: "370403104", Name: "陶庄镇"},
}

// villageNames are a few villages and communities per township.
var villageNames = map[string][]string{
	"370403001": {"北临城社区", "南临城社区", "小寨社区"},
	"370403002": {"常庄村", "西小庄社区", "大吕巷村"},
	"370403003": {"前西仓社区", "后西仓社区", "黄庄社区"},
	"370403101": {"沙沟村", "前良村", "后良村"},
	"370403102": {"周营村", "大彦村", "沙沟崖村"},
	"370403103": {"邹坞村", "中陈郝村", "五所楼村"},
	"370403104": {"陶庄村", "南于村", "北于村"},
}

// Villages returns the demo villages, codes numbered in each township.
func Villages() []store.Village {
	var vs []store.Village
	for _, t := range Townships {
		for i, name := range villageNames[t.Code] {
			vs = append(vs, store.Village{
				Code:         fmt.Sprintf("%s%03d", t.Code, 201+i),
				TownshipCode: t.Code,
				Name:         name,
			})
		}
	}
	return vs
}

// Load writes the demo district; loading it again changes nothing.
func Load(ctx context.Context, db *store.DB) error {
	return db.UpsertDistrict(ctx, Townships, Villages())
}
