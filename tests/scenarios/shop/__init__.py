"""A small Flask-SQLAlchemy shop whose services hold the anti-patterns the rules look for
(and their clean counterparts): the scenario cells only call it, as cells call real apps."""
