// Package syncproto is the contract shared by the server and the tablet app:
// value types (money in fen, resident ID numbers, insurance kinds, payer
// categories, ULIDs), coded errors and, later, the sync wire types and their
// canonical hashing. It does no I/O and imports no database or HTTP package.
package syncproto
