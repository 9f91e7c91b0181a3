package syncproto

import (
	"crypto/ed25519"
	"fmt"
)

// OutboxFile is what `agentapp outbox export` writes for a tablet that
// cannot sync (broken, or its PIN forgotten): the device's unsynced
// mutations, each signed by the device key, in seq order. The township
// imports it on the server, which checks every mutation against the
// public key it enrolled for DeviceID (never against PublicKey, which is
// here only so the file can be checked on its own) and against the chain
// it holds: the first mutation's PrevHash must be the hash of the last one
// the server has.
type OutboxFile struct {
	DeviceID  string     `json:"device_id"`
	PublicKey []byte     `json:"public_key"` // Ed25519, base64 in JSON
	Mutations []Mutation `json:"mutations"`
}

// Verify checks the file on its own: every mutation belongs to DeviceID,
// is signed by pub and hashes to its Hash, and the mutations form an
// unbroken chain (seq +1, each PrevHash the Hash before). The first
// mutation's link to what came before it cannot be checked here. pub is
// the device's enrolled key; nil means the file's own PublicKey.
func (f *OutboxFile) Verify(pub ed25519.PublicKey) error {
	if pub == nil {
		pub = f.PublicKey
	}
	for i := range f.Mutations {
		m := &f.Mutations[i]
		if m.DeviceID != f.DeviceID {
			return Errorf(CodeInvalidInput, fmt.Sprintf("mutation %d belongs to device %s, not %s", m.Seq, m.DeviceID, f.DeviceID),
				fmt.Sprintf("记录 %d 不属于终端 %s", m.Seq, f.DeviceID))
		}
		if err := m.Check(pub); err != nil {
			return err
		}
		if i == 0 {
			continue
		}
		prev := &f.Mutations[i-1]
		if m.Seq != prev.Seq+1 {
			return Errorf(CodeChainGap, fmt.Sprintf("mutation %d follows %d: a gap or a reordering", m.Seq, prev.Seq),
				fmt.Sprintf("记录 %d 接在 %d 之后：缺号或顺序错乱", m.Seq, prev.Seq))
		}
		if m.PrevHash != prev.Hash {
			return Errorf(CodeChainBroken, fmt.Sprintf("mutation %d does not link to mutation %d", m.Seq, prev.Seq),
				fmt.Sprintf("记录 %d 与记录 %d 的哈希链不相连", m.Seq, prev.Seq))
		}
	}
	return nil
}
