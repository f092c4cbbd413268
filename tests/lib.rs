//! Workspace-level tests of seqrec. The tests themselves are the `[[test]]`
//! targets beside this file; this library is empty.
