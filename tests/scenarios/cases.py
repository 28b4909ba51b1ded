"""The scenario corpus: cells in several styles, each with the rules it should trigger."""

from __future__ import annotations

from tests.scenarios.harness import Case, case

CASCADE_MODELS = """
from sqlalchemy.orm import declarative_base, relationship
CBase = declarative_base()

class Shelf(CBase):
    __tablename__ = "c_shelf"
    id = sa.Column(sa.Integer, primary_key=True)
    items = relationship("Item", cascade="all, delete-orphan"{passive})

class Item(CBase):
    __tablename__ = "c_item"
    id = sa.Column(sa.Integer, primary_key=True)
    shelf_id = sa.Column(sa.ForeignKey("c_shelf.id", ondelete="CASCADE"), nullable=False)
    name = sa.Column(sa.String(50))

CBase.metadata.create_all(engine)
session.execute(insert(Shelf), [{{"id": i}} for i in range(1, 6)])
session.execute(insert(Item), [{{"shelf_id": i % 5 + 1, "name": f"i{{i}}"}} for i in range(100)])
session.commit()
sa.orm.configure_mappers()
"""

DYNAMIC_MODELS = """
from sqlalchemy.orm import declarative_base, relationship
DBase = declarative_base()

class Drawer(DBase):
    __tablename__ = "d_drawer"
    id = sa.Column(sa.Integer, primary_key=True)
    things = relationship("Thing", lazy="dynamic")

class Thing(DBase):
    __tablename__ = "d_thing"
    id = sa.Column(sa.Integer, primary_key=True)
    drawer_id = sa.Column(sa.ForeignKey("d_drawer.id"), nullable=False)

DBase.metadata.create_all(engine)
session.execute(insert(Drawer), [{"id": i} for i in range(1, 41)])
session.execute(insert(Thing), [{"drawer_id": i % 40 + 1} for i in range(200)])
session.commit()
sa.orm.configure_mappers()
"""

UNCACHED_TYPE = """
from sqlalchemy.orm import declarative_base
TBase = declarative_base()

class Upper(sa.types.TypeDecorator):
    impl = sa.String(50)
    {cache_ok}
    def process_bind_param(self, value, dialect):
        return value.upper() if value is not None else value

class Tag(TBase):
    __tablename__ = "t_tag"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(Upper())

TBase.metadata.create_all(engine)
session.execute(insert(Tag), [{{"name": f"t{{i}}"}} for i in range(20)])
session.commit()
sa.orm.configure_mappers()
"""

UNCACHED_CONSTRUCT = """
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

class zero_if_null(FunctionElement):
    type = sa.Integer()
    name = "zero_if_null"

@compiles(zero_if_null)
def _compile_zero_if_null(element, compiler, **kw):
    return "coalesce(%s, 0)" % compiler.process(element.clauses, **kw)
"""

UNCONFIGURED = """
fresh = demo.declare("mc_")
fresh.metadata.create_all(engine)
"""

MORE_BOOKS = """
session.execute(
    insert(Book), [dict(author_id=1 + i % 300, title=f"x{i}", pages=i % 900) for i in range(9000)]
)
session.commit()
"""

SHOP = """
from tests.scenarios.shop import services
from tests.scenarios.shop.models import Customer, db as shop_db
from tests.scenarios.shop.web import create_app
shop_app = create_app(orders_per_customer=3)
"""
"""The shop app of `tests/scenarios/shop/`: the cell only calls its services."""

CASES: list[Case] = [
    # -- n-plus-one
    case(
        "n1-select-loop",
        """
authors = session.scalars(select(Author)).all()
total = 0
for author in authors:
    total += len(author.books)
total
""",
        "n-plus-one",
    ),
    case(
        "n1-query-in-function",
        """
def page_counts(s):
    return {a.name: sum(b.pages for b in a.books) for a in s.query(Author).order_by(Author.id)}

counts = page_counts(session)
len(counts)
""",
        "n-plus-one",
        style="1.x",
    ),
    case(
        "n1-flask",
        """
names = [(a.name, len(a.books)) for a in FAuthor.query.all()]
""",
        "n-plus-one",
        style="flask",
    ),
    case(
        "n1-many-to-one",
        """
pairs = [(b.title, b.author.name) for b in session.query(Book).order_by(Book.id).limit(100)]
""",
        "n-plus-one",
        style="1.x",
    ),
    case(
        "n1-clean",
        """
from sqlalchemy.orm import selectinload
authors = session.scalars(select(Author).options(selectinload(Author.books))).all()
total = sum(len(a.books) for a in authors)
""",
    ),
    # -- unused-eager-load
    case(
        "eager-unused-selectin",
        """
from sqlalchemy.orm import selectinload
names = [a.name for a in session.scalars(select(Author).options(selectinload(Author.books)))]
""",
        "unused-eager-load",
    ),
    case(
        "eager-unused-joined",
        """
from sqlalchemy.orm import joinedload
titles = [b.title for b in session.query(Book).options(joinedload(Book.author)).limit(50)]
""",
        "unused-eager-load",
        style="1.x",
    ),
    case(
        "eager-used-clean",
        """
from sqlalchemy.orm import joinedload
pairs = [(b.title, b.author.name) for b in session.query(Book).options(joinedload(Book.author)).limit(50)]
""",
        style="1.x",
    ),
    # -- len-all
    case(
        "len-query",
        "n = len(session.query(Book).filter(Book.pages > 100).all())\nn\n",
        "len-all",
        style="1.x",
    ),
    case("len-scalars", "n = len(session.scalars(select(Book).where(Book.pages > 100)).all())\n", "len-all"),
    case("len-flask", "n = len(FBook.query.filter(FBook.pages > 10).all())\n", "len-all", style="flask"),
    case(
        "len-clean",
        """
n = session.query(Book).count()
books = session.scalars(select(Book).limit(50)).all()
titles = [b.title for b in books] + [str(len(books))]
""",
    ),
    # -- unused-columns
    case(
        "unused-scalars",
        "emails = [a.email_address for a in session.scalars(select(EmailAddress)).all()]\n",
        "unused-columns",
    ),
    case(
        "unused-query-name",
        """
addresses = session.query(EmailAddress).all()
out = []
for a in addresses:
    out.append(a.email_address.upper())
""",
        "unused-columns",
        style="1.x",
    ),
    case("unused-flask", "titles = {b.title for b in FBook.query.all()}\n", "unused-columns", style="flask"),
    case(
        "unused-clean",
        """
emails = session.scalars(select(EmailAddress.email_address)).all()
addresses = session.scalars(select(EmailAddress).limit(500)).all()
addresses[0].user_id
""",
    ),
    # -- loop-update
    case(
        "update-query-loop",
        """
for b in session.query(Book).filter(Book.author_id <= 100):
    b.pages += 1
session.flush()
""",
        "loop-update",
        style="1.x",
    ),
    case(
        "update-select-name",
        """
books = session.scalars(select(Book).where(Book.author_id <= 100)).all()
for b in books:
    b.pages = b.pages * 2
session.flush()
""",
        "loop-update",
    ),
    case(
        "update-core-loop",
        """
table = Book.__table__
with engine.connect() as conn:
    transaction = conn.begin()
    for book_id in range(1, 60):
        conn.execute(update(table).where(table.c.id == book_id).values(pages=1))
    transaction.rollback()
""",
        "loop-update",
        style="core",
    ),
    case(
        "update-clean",
        """
session.execute(update(Book).where(Book.author_id <= 100).values(pages=Book.pages + 1))
session.flush()
""",
    ),
    # -- loop-insert
    case(
        "insert-add-loop",
        """
for i in range(300):
    session.add(Book(title=f"new {i}", pages=i, author_id=1))
session.flush()
""",
        "loop-insert",
    ),
    case(
        "insert-add-all",
        """
session.add_all([Book(title=f"new {i}", pages=i, author_id=1) for i in range(300)])
session.flush()
""",
        "loop-insert",
        style="1.x",
    ),
    case(
        "insert-flask",
        """
for i in range(150):
    book = FBook(title=f"f{i}", pages=i, author_id=1)
    db.session.add(book)
db.session.flush()
""",
        "loop-insert",
        style="flask",
    ),
    case(
        "insert-clean",
        """
session.execute(insert(Book), [dict(title=f"new {i}", pages=i, author_id=1) for i in range(300)])
session.flush()
""",
    ),
    # -- first-for-exists
    case(
        "exists-query",
        """
if session.query(Book).filter(Book.title == "Book 3.1").first() is not None:
    found = True
""",
        "first-for-exists",
        style="1.x",
    ),
    case(
        "exists-select",
        "missing = session.scalars(select(Book).where(Book.pages > 300)).first() is None\n",
        "first-for-exists",
    ),
    case(
        "exists-in-function",
        """
def has_long_books(s):
    return bool(s.execute(select(Book).where(Book.pages > 850)).first())

has_long_books(session)
""",
        "first-for-exists",
    ),
    case(
        "exists-clean",
        """
book = session.scalars(select(Book).where(Book.pages > 300)).first()
title = book.title if book else None
""",
    ),
    # -- orm-cascade-delete
    case(
        "cascade-get-delete",
        "session.delete(session.get(Shelf, 1))\nsession.flush()\n",
        "orm-cascade-delete",
        setup=CASCADE_MODELS.format(passive=""),
    ),
    case(
        "cascade-loop-delete",
        """
for shelf in session.query(Shelf).filter(Shelf.id <= 3):
    session.delete(shelf)
session.flush()
""",
        "orm-cascade-delete",
        style="1.x",
        setup=CASCADE_MODELS.format(passive=""),
    ),
    case(
        "cascade-clean",
        "session.delete(session.get(Shelf, 1))\nsession.flush()\n",
        setup=CASCADE_MODELS.format(passive=", passive_deletes=True"),
    ),
    # -- no-cache-key
    case(
        "nokey-typedecorator",
        "tags = session.query(Tag).filter(Tag.name == 't1').all()\n",
        "no-cache-key",
        style="1.x",
        setup=UNCACHED_TYPE.format(cache_ok=""),
    ),
    case(
        "nokey-construct",
        """
def pages_or_zero(author_id):
    return session.scalar(select(zero_if_null(func.sum(Book.pages))).where(Book.author_id == author_id))

totals = [pages_or_zero(i) for i in range(1, 4)]
""",
        "no-cache-key",
        setup=UNCACHED_CONSTRUCT,
    ),
    case(
        "nokey-clean",
        "tags = session.query(Tag).filter(Tag.name == 't1').all()\n",
        style="1.x",
        setup=UNCACHED_TYPE.format(cache_ok="cache_ok = True"),
    ),
    # -- mapper-config
    case(
        "mapper-first-query",
        "authors = session.scalars(select(fresh.Author)).all()\n",
        "mapper-config",
        setup=UNCONFIGURED,
    ),
    case(
        "mapper-first-object",
        "a = fresh.Author(name='x')\nsession.query(fresh.Book).count()\n",
        "mapper-config",
        style="1.x",
        setup=UNCONFIGURED,
    ),
    case(
        "mapper-clean",
        "authors = session.scalars(select(fresh.Author)).all()\n",
        setup=UNCONFIGURED + "sa.orm.configure_mappers()\n",
    ),
    # -- repeated-flush
    case(
        "flush-in-loop",
        """
for i in range(30):
    session.add(Book(title=f"new {i}", pages=i, author_id=1))
    session.flush()
""",
        "repeated-flush",
    ),
    case(
        "commit-in-loop",
        """
for a in session.query(Author).order_by(Author.id).limit(15):
    a.name = a.name + "!"
    session.commit()
""",
        "repeated-flush",
        "column-load",  # each commit expires the rows the loop reads next
        style="1.x",
    ),
    case(
        "flush-clean",
        """
for a in session.query(Author).order_by(Author.id).limit(15):
    a.name = a.name + "!"
session.commit()
""",
        style="1.x",
    ),
    # -- large-result
    case(
        "large-query-all",
        "pages = [b.pages for b in session.query(Book).all()]\n",
        "large-result",
        "unused-columns",
        style="1.x",
        setup=MORE_BOOKS,
    ),
    case(
        "large-select-rows",
        "rows = session.execute(select(Book.id, Book.title, Book.pages)).all()\nrows[-1]\n",
        "large-result",
        setup=MORE_BOOKS,
    ),
    case("large-clean", "total = session.scalar(select(func.sum(Book.pages)))\n", setup=MORE_BOOKS),
    # -- seq-scan (needs EXPLAIN)
    case(
        "scan-select",
        "book = session.scalars(select(Book).where(Book.title == 'Book 3.1')).first()\n",
        "seq-scan",
        options="",
    ),
    case(
        "scan-query",
        "n = session.query(Book).filter_by(pages=300).count()\n",
        "seq-scan",
        style="1.x",
        options="",
    ),
    case(
        "scan-clean",
        "books = session.scalars(select(Book).where(Book.author_id == 3)).all()\n",
        options="",
    ),
    # -- cartesian-product
    case(
        "cartesian-query",
        "rows = session.query(Author, Book).filter(Book.pages > 800).limit(50).all()\n",
        "cartesian-product",
        style="1.x",
    ),
    case(
        "cartesian-select",
        "rows = session.execute(select(Author.name, Book.title).where(Author.id < 5, Book.id < 5)).all()\n",
        "cartesian-product",
    ),
    case(
        "cartesian-clean",
        """
rows = session.execute(
    select(Author.name, Book.title).where(Book.author_id == Author.id, Author.id < 5)
).all()
""",
    ),
    # -- dynamic-relationship
    case(
        "dynamic-count",
        "counts = [d.things.count() for d in session.query(Drawer)]\n",
        "dynamic-relationship",
        style="1.x",
        setup=DYNAMIC_MODELS,
    ),
    case(
        "dynamic-filter",
        """
firsts = []
for drawer in session.scalars(select(Drawer)):
    firsts.append(drawer.things.filter(Thing.id > 0).all())
""",
        "dynamic-relationship",
        setup=DYNAMIC_MODELS,
    ),
    case(
        "dynamic-clean",
        """
counts = session.execute(select(Thing.drawer_id, func.count()).group_by(Thing.drawer_id)).all()
""",
        setup=DYNAMIC_MODELS,
    ),
    # -- duplicate-query
    case(
        "duplicate-loop",
        """
long_books = 0
for a in session.scalars(select(Author).limit(10)):
    long_books = session.query(Book).filter(Book.pages > 500).count()
""",
        "duplicate-query",
        style="1.x",
    ),
    case(
        "duplicate-function",
        """
def total_pages():
    return session.scalar(select(func.sum(Book.pages)))

totals = [total_pages() for _ in range(5)]
""",
        "duplicate-query",
    ),
    case(
        "duplicate-clean",
        """
total = session.scalar(select(func.sum(Book.pages)))
totals = [total for _ in range(5)]
""",
    ),
    # -- loop-select
    case(
        "loop-get",
        """
ids = list(range(1, 80))
found = [session.get(Author, i) for i in ids]
names = [a.name for a in found]
""",
        "loop-select",
    ),
    case(
        "loop-count",
        """
authors = session.scalars(select(Author).limit(40)).all()
counts = {}
for author in authors:
    counts[author.id] = session.scalar(select(func.count()).where(Book.author_id == author.id))
""",
        "loop-select",
    ),
    case(
        "loop-helper-query",
        """
def titles_of(author):
    return session.scalars(select(Book.title).where(Book.author_id == author.id)).all()

titles = {a.name: titles_of(a) for a in session.scalars(select(Author).limit(30))}
""",
        "loop-select",
    ),
    case(
        "loop-select-shop-count",
        """
with shop_app.app_context():
    counts = services.order_counts(shop_db.session)
""",
        "loop-select",
        setup=SHOP,
        tags=("shop",),
    ),
    case(
        "loop-select-shop-get",
        """
with shop_app.app_context():
    customers = services.customers_by_id(shop_db.session, list(range(1, 31)))
""",
        "loop-select",
        setup=SHOP,
        tags=("shop",),
    ),
    case(
        "loop-select-clean",
        """
ids = list(range(1, 80))
loaded = session.scalars(select(Author).where(Author.id.in_(ids))).all()
found = [session.get(Author, i) for i in ids]
""",
    ),
    case(
        "loop-select-shop-clean",
        """
with shop_app.app_context():
    counts = services.order_counts_grouped(shop_db.session)
""",
        setup=SHOP,
        tags=("shop",),
    ),
    # -- column-load
    case(
        "column-deferred",
        """
from sqlalchemy.orm import defer
books = session.scalars(select(Book).options(defer(Book.title)).limit(60)).all()
titles = [b.title for b in books]
""",
        "column-load",
    ),
    case(
        "column-expired",
        """
books = session.scalars(select(Book).order_by(Book.id).limit(40)).all()
session.commit()
pages = sum(b.pages for b in books)
""",
        "column-load",
    ),
    case(
        "column-shop-deferred",
        """
with shop_app.app_context():
    notes = services.order_notes(shop_db.session)
""",
        "column-load",
        setup=SHOP,
        tags=("shop",),
    ),
    case(
        "column-shop-expired",
        """
with shop_app.app_context():
    totals = services.totals_after_commit(shop_db.session)
""",
        "column-load",
        setup=SHOP,
        tags=("shop",),
    ),
    case(
        "column-clean",
        """
session.expire_on_commit = False
books = session.scalars(select(Book).order_by(Book.id).limit(40)).all()
session.commit()
pages = sum(b.pages for b in books)
""",
    ),
    case(
        "column-shop-clean",
        """
with shop_app.app_context():
    notes = services.order_notes_undeferred(shop_db.session)
    totals = services.totals_before_commit(shop_db.session)
""",
        setup=SHOP,
        tags=("shop",),
    ),
    # -- unused-eager-load, read in a module
    case(
        "eager-shop-unused",
        """
from sqlalchemy.orm import selectinload
with shop_app.app_context():
    customers = shop_db.session.scalars(select(Customer).options(selectinload(Customer.orders))).all()
    names = [c.name for c in customers]
""",
        "unused-eager-load",
        setup=SHOP,
        tags=("shop",),
    ),
    case(
        "eager-shop-read-clean",
        """
from sqlalchemy.orm import selectinload
with shop_app.app_context():
    customers = shop_db.session.scalars(select(Customer).options(selectinload(Customer.orders))).all()
    sums = services.order_sums(customers)
""",
        setup=SHOP,
        tags=("shop",),
    ),
    # -- loop-insert through bulk calls, no-cache-key with the cache switched off
    case(
        "insert-bulk-per-row",
        """
for i in range(150):
    session.bulk_insert_mappings(Book, [dict(author_id=1 + i % 300, title=f"n{i}", pages=i)])
session.commit()
""",
        "loop-insert",
    ),
    case(
        "nocache-switched-off",
        """
with engine.connect() as conn:
    conn = conn.execution_options(compiled_cache=None)
    rows = [
        conn.execute(
            select(Book.title, Author.name, func.upper(Book.title))
            .join(Author, Book.author_id == Author.id)
            .where(Book.id == i, Author.name.like("%"))
            .order_by(Book.id)
        ).all()
        for i in range(100)
    ]
""",
        "no-cache-key",
        "loop-select",
    ),
]
