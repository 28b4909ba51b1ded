"""Which tool detects which N+1: the scenarios nplusone's own test suite describes.

Models as in nplusone's tests: users with addresses (one-to-many / many-to-one), hobbies
(many-to-many) and an occupation (one-to-one).  Each scenario is run under sqla_magic's
`profile()` (a finding of rule `n-plus-one`, or for the eager case any finding naming the
unused relationship) and under nplusone's `Profiler` (which raises on detection).
sqltap lists queries but gives no verdict, so it has no column here.

    python benchmarks/detection.py
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, declarative_base, joinedload, relationship

from sqla_magic import profile

Base: Any = declarative_base()

users_hobbies = sa.Table(
    "users_hobbies",
    Base.metadata,
    sa.Column("user_id", sa.ForeignKey("user.id")),
    sa.Column("hobby_id", sa.ForeignKey("hobby.id")),
)


class User(Base):  # type: ignore[misc,valid-type]
    __tablename__ = "user"
    id = sa.Column(sa.Integer, primary_key=True)
    addresses = relationship("Address", backref="user")
    hobbies = relationship("Hobby", secondary=users_hobbies, backref="users")
    occupation = relationship("Occupation", uselist=False, backref="user")


class Address(Base):  # type: ignore[misc,valid-type]
    __tablename__ = "address"
    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.ForeignKey("user.id"))


class Hobby(Base):  # type: ignore[misc,valid-type]
    __tablename__ = "hobby"
    id = sa.Column(sa.Integer, primary_key=True)


class Occupation(Base):  # type: ignore[misc,valid-type]
    __tablename__ = "occupation"
    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.ForeignKey("user.id"))


def one_to_many(session: Session) -> object:
    return [len(user.addresses) for user in session.query(User).all()]


def many_to_one(session: Session) -> object:
    return [address.user.id for address in session.query(Address).all()]


def many_to_many(session: Session) -> object:
    return [len(user.hobbies) for user in session.query(User).all()]


def one_to_one(session: Session) -> object:
    return [user.occupation.id for user in session.query(User).all()]


def many_to_many_reverse(session: Session) -> object:
    return [len(hobby.users) for hobby in session.query(Hobby).all()]


def single_parent(session: Session) -> object:
    user = session.query(User).first()
    assert user is not None
    return len(user.addresses)


def unused_eager_load(session: Session) -> object:
    return [user.id for user in session.query(User).options(joinedload(User.addresses)).all()]


SCENARIOS: list[tuple[str, Callable[[Session], object], bool]] = [
    ("lazy one-to-many in a loop", one_to_many, True),
    ("lazy many-to-one in a loop", many_to_one, True),
    ("lazy many-to-many in a loop", many_to_many, True),
    ("lazy many-to-many, reverse side", many_to_many_reverse, True),
    ("lazy one-to-one in a loop", one_to_one, True),
    ("one parent, one lazy load (not an N+1)", single_parent, False),
    ("eager load never used", unused_eager_load, True),
]
"""(scenario, workload, whether a detector should flag it)."""


def _engine() -> sa.engine.Engine:
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        hobbies = [Hobby() for _ in range(20)]
        for i in range(20):
            session.add(
                User(addresses=[Address(), Address()], hobbies=hobbies[i : i + 2], occupation=Occupation())
            )
        session.commit()
    return engine


def sqla_magic_detects(engine: sa.engine.Engine, workload: Callable[[Session], object]) -> bool:
    with Session(engine) as session, profile(explain=False) as report:
        workload(session)
    return any(f.rule in ("n-plus-one", "unused-eager-load") for f in report.findings)


def nplusone_detects(engine: sa.engine.Engine, workload: Callable[[Session], object]) -> bool | None:
    try:
        import nplusone.ext.sqlalchemy  # noqa: F401 - installs nplusone's hooks
        from nplusone.core import exceptions, profiler
    except ImportError:
        return None
    try:
        with Session(engine) as session, profiler.Profiler():
            workload(session)
    except exceptions.NPlusOneError:
        return True
    return False


def main() -> None:
    engine = _engine()
    rows = [(name, expected, sqla_magic_detects(engine, run)) for name, run, expected in SCENARIOS]
    # nplusone patches SQLAlchemy for the rest of the process: it runs after sqla_magic.
    rows_np = [nplusone_detects(engine, run) for _name, run, _expected in SCENARIOS]
    print(f"SQLAlchemy {sa.__version__}")
    print("| scenario | should flag | sqla_magic | nplusone |")
    print("|---|---|---|---|")
    for (name, expected, ours), theirs in zip(rows, rows_np, strict=True):
        words = {True: "flagged", False: "not flagged", None: "not installed"}
        print(f"| {name} | {'yes' if expected else 'no'} | {words[ours]} | {words[theirs]} |")


if __name__ == "__main__":
    main()
