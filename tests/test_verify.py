"""`verify` refuses what it cannot check, and says why (the sandbox's safety cases are in
`tests/reliability/test_verify_safety.py`)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sqla_magic.model import Finding, Rewrite
from sqla_magic.verify import verify


def finding(original: str, rewritten: str) -> Finding:
    return Finding("loop-update", "medium", "t", "m", rewrite=Rewrite(original, rewritten))


def test_refuses_what_cannot_be_rolled_back(sqlite_engine: sa.Engine) -> None:
    session = Session(sqlite_engine)
    namespace = {"session": session, "engine": sqlite_engine}
    commits = finding("x = 1\nsession.commit()\n", "x = 1\n")
    result = verify(commits, None, namespace)
    assert not result.verified and "commits, at line 2 of the cell" in result.reason
    assert result.same_result is None
    assert verify(finding("x = 1\n", "x = 2\n"), None, {}).verified  # no database at all
    no_rewrite = Finding("seq-scan", "low", "t", "m")
    assert not verify(no_rewrite, None, namespace).verified
