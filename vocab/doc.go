// Package vocab is the vocabulary ensign writes into Git and Gitea so that
// its actions can be found again and are safe to repeat: the commit trailer
// keys, the hidden markers that key its comments and pull request bodies,
// the record of a promotion, the sections of its status comment, and the one
// definition of "this commit is a revert".
//
// Everything here is pure (no I/O) and safe for concurrent use. What vocab
// reads back is outside input (anyone with write access can write a marker
// or a trailer), so callers check the author of what they read: only ensign's
// own pull requests and comments count, and a commit's trailers only describe
// what its tree must then be checked against.
package vocab
