"""Realistic sample data for the source (the e-commerce application's four tables).

Everything goes in through multi-row INSERT statements in transactions of a few thousand rows,
never COPY (design.md, pipeline facts: Debezium can lose events that share an LSN across a
connector restart, and the rows of one COPY share one).

Deterministic: the same seed, sizes and anchor date give the same rows, column for column. Every
value is generated here, timestamps included (no DEFAULT CURRENT_TIMESTAMP), from random.Random and
Faker instances seeded from `seed`; keys are reserved from the tables' own sequences, so a fresh
database gets 1..N and an application inserting afterwards never collides with them. Order dates
fall in the year before the anchor date's midnight (the anchor defaults to today: pass the same one
to reproduce a run on another day), and an order's status follows its age: pending, processing,
shipped, then delivered.
"""
from __future__ import annotations

import itertools
import random
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Callable, Iterator, Sequence

import psycopg
from psycopg import sql

TABLES = ("customers", "products", "orders", "order_items")

# Customers come from several countries; each has its own Faker locale for names and addresses.
LOCALES = {
    "en_US": ("United States", 40),
    "en_GB": ("United Kingdom", 15),
    "de_DE": ("Germany", 12),
    "fr_FR": ("France", 10),
    "es_ES": ("Spain", 8),
    "it_IT": ("Italy", 7),
    "nl_NL": ("Netherlands", 5),
    "en_CA": ("Canada", 3),
}

# category: (price range, nouns); brands per category are made by Faker.
CATEGORIES = {
    "Electronics": ((25, 1500), ["Headphones", "Speaker", "Monitor", "Keyboard", "Smartwatch", "Tablet", "Camera", "Charger"]),
    "Home & Kitchen": ((10, 400), ["Blender", "Kettle", "Cookware Set", "Coffee Maker", "Knife Block", "Toaster", "Lamp"]),
    "Clothing": ((8, 250), ["Jacket", "Sneakers", "T-Shirt", "Jeans", "Hoodie", "Scarf", "Dress"]),
    "Sports & Outdoors": ((10, 800), ["Yoga Mat", "Tent", "Backpack", "Bike Helmet", "Dumbbells", "Water Bottle"]),
    "Books": ((5, 60), ["Novel", "Cookbook", "Travel Guide", "Biography", "Atlas", "Workbook"]),
    "Beauty": ((5, 120), ["Face Cream", "Shampoo", "Perfume", "Lip Balm", "Hair Dryer"]),
    "Toys & Games": ((5, 150), ["Board Game", "Puzzle", "Building Set", "Plush Toy", "Card Game"]),
    "Garden": ((5, 600), ["Hose", "Planter", "Lawn Mower", "Pruning Shears", "Garden Chair"]),
}
ADJECTIVES = ["Classic", "Pro", "Compact", "Deluxe", "Eco", "Ultra", "Smart", "Essential", "Premium", "Lite", "Max", "Vintage"]
BRANDS_PER_CATEGORY = 5

# statuses by age of the order in days: (max age, [(status, weight), ...])
STATUS_BY_AGE = [
    (1, [("pending", 80), ("processing", 20)]),
    (3, [("pending", 15), ("processing", 60), ("shipped", 25)]),
    (7, [("processing", 10), ("shipped", 60), ("delivered", 30)]),
    (14, [("shipped", 25), ("delivered", 75)]),
    (None, [("delivered", 100)]),
]

COLUMNS = {
    "customers": ("customer_id", "first_name", "last_name", "email", "phone", "address", "city", "country", "created_at", "updated_at"),
    "products": ("product_id", "product_name", "category", "brand", "price", "cost", "description", "created_at", "updated_at"),
    "orders": ("order_id", "customer_id", "order_date", "status", "total_amount", "created_at", "updated_at"),
    "order_items": ("order_item_id", "order_id", "product_id", "quantity", "unit_price", "line_total", "created_at"),
}


@dataclass
class SeedResult:
    seed: int
    anchor_date: date
    skipped: bool
    existing: dict[str, int]
    inserted: dict[str, int] = field(default_factory=lambda: {t: 0 for t in TABLES})
    seconds: float = 0.0
    first_order_date: datetime | None = None
    last_order_date: datetime | None = None

    @property
    def rows(self) -> int:
        return sum(self.inserted.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["rows"] = self.rows
        d["rows_per_second"] = round(self.rows_per_second, 1)
        d["seconds"] = round(self.seconds, 3)
        return d


def ensure_schema(conn: psycopg.Connection) -> bool:
    """Create the application's tables when missing. Returns True when something was created."""
    missing = conn.execute(
        "SELECT count(*) FROM unnest(%s::text[]) t WHERE to_regclass('public.' || t) IS NULL", (list(TABLES),)
    ).fetchone()[0]
    if missing:
        ddl = resources.files("whctl").joinpath("sql/source_schema.sql").read_text()
        conn.execute(ddl)
    return bool(missing)


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(sql.SQL("SELECT count(*) FROM public.{}").format(sql.Identifier(t))).fetchone()[0] for t in TABLES}


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum()) or "user"


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(Decimal("0.01"))


class Generator:
    """Rows of the four tables, a pure function of the seed and the anchor date."""

    def __init__(self, seed: int, anchor: date):
        from faker import Faker  # imported here: `whctl --help` stays fast

        self.seed = seed
        self.anchor = datetime.combine(anchor, datetime.min.time())
        self.fakers = {}
        for i, locale in enumerate(LOCALES):
            fake = Faker(locale)
            fake.seed_instance(seed * 100 + i)
            # Faker's it_IT builds its list of cities from a set: its order (and so the city a seed
            # picks) changes with the interpreter's hash seed. Sorted, it is the same in every run.
            for provider in fake.get_providers():
                if isinstance(getattr(provider, "cities", None), list):
                    provider.cities = sorted(provider.cities)
            self.fakers[locale] = fake
        self.locale_names = list(LOCALES)
        self.locale_weights = [w for _, w in LOCALES.values()]

    def _rng(self, part: str) -> random.Random:
        return random.Random(f"{self.seed}:{part}")

    def customers(self, ids: Sequence[int]) -> Iterator[tuple]:
        rng = self._rng(f"customers:{ids[0] if ids else 0}")
        for cid in ids:
            locale = rng.choices(self.locale_names, self.locale_weights)[0]
            fake = self.fakers[locale]
            first, last = fake.first_name()[:100], fake.last_name()[:100]
            email = f"{_ascii(first)}.{_ascii(last)}.{cid}@{fake.free_email_domain()}"[:255]
            phone = fake.numerify("+## ### ### ####")
            created = self.anchor - timedelta(days=365 + rng.uniform(0, 365))
            updated = created + timedelta(days=rng.uniform(0, 30)) if rng.random() < 0.2 else created
            yield (cid, first, last, email, phone, fake.street_address()[:500], fake.city()[:100],
                   LOCALES[locale][0], created.replace(microsecond=0), updated.replace(microsecond=0))

    def brands(self) -> dict[str, list[str]]:
        fake = self.fakers["en_US"]
        rng = self._rng("brands")
        out = {}
        for category in CATEGORIES:
            names: list[str] = []
            while len(names) < BRANDS_PER_CATEGORY:
                name = fake.last_name() + rng.choice(["", " & Co", " Labs", " Works", "ware", " Home", " Gear"])
                if name not in names:
                    names.append(name)
            out[category] = names
        return out

    def products(self, ids: Sequence[int]) -> Iterator[tuple]:
        rng = self._rng(f"products:{ids[0] if ids else 0}")
        fake = self.fakers["en_US"]
        brands = self.brands()
        categories = list(CATEGORIES)
        for pid in ids:
            category = rng.choice(categories)
            (low, high), nouns = CATEGORIES[category]
            brand = rng.choice(brands[category])
            # prices cluster at the low end of a category's range, and end in .99 or .49
            price = max(low, min(high, round(low * (high / low) ** (rng.random() ** 1.5)))) - rng.choice([0.01, 0.51])
            price = max(price, 1.99)
            cost = price * rng.uniform(0.4, 0.75)
            name = f"{brand} {rng.choice(ADJECTIVES)} {rng.choice(nouns)} {rng.randint(100, 999)}"
            created = self.anchor - timedelta(days=365 + rng.uniform(0, 365))
            yield (pid, name[:255], category, brand[:100], _money(price), _money(cost), fake.sentence(nb_words=12),
                   created.replace(microsecond=0), created.replace(microsecond=0))

    def orders(self, ids: Sequence[int], first_item_id: int, customer_ids: Sequence[int],
               prices: dict[int, Decimal]) -> Iterator[tuple[tuple, list[tuple]]]:
        """(order row, its lines) for each order id; line ids follow on from first_item_id."""
        rng = self._rng(f"orders:{ids[0] if ids else 0}")
        product_ids = sorted(prices)
        # a long tail: some products and customers sell far more than others
        product_weights = [1.0 / (1 + (i % 50)) for i in range(len(product_ids))]
        rng.shuffle(product_weights)
        cum_weights = list(itertools.accumulate(product_weights))
        item_id = first_item_id
        for oid in ids:
            customer = customer_ids[min(len(customer_ids) - 1, int(len(customer_ids) * rng.random() ** 1.3))]
            age_days = rng.uniform(0, 365)
            order_date = (self.anchor - timedelta(days=age_days)).replace(microsecond=0)
            if order_date >= self.anchor:
                order_date = self.anchor - timedelta(seconds=1)
            for max_age, choices in STATUS_BY_AGE:
                if max_age is None or age_days < max_age:
                    status = rng.choices([s for s, _ in choices], [w for _, w in choices])[0]
                    break
            progress_days = {"pending": 0, "processing": 0.3, "shipped": 1.5, "delivered": 4}[status]
            updated = min(order_date + timedelta(days=min(progress_days * rng.uniform(0.8, 1.5), age_days)),
                          self.anchor - timedelta(seconds=1)).replace(microsecond=0)
            n_lines = rng.choices([1, 2, 3, 4, 5], [35, 25, 20, 12, 8])[0]
            chosen = set()
            while len(chosen) < min(n_lines, len(product_ids)):
                chosen.add(rng.choices(product_ids, cum_weights=cum_weights)[0])
            lines = []
            total = Decimal("0.00")
            for pid in sorted(chosen):
                quantity = rng.choices([1, 2, 3, 4], [70, 20, 7, 3])[0]
                unit_price = prices[pid]
                line_total = unit_price * quantity
                total += line_total
                lines.append((item_id, oid, pid, quantity, unit_price, line_total, order_date))
                item_id += 1
            yield (oid, customer, order_date, status, total, order_date, updated), lines


def _reserve_ids(conn: psycopg.Connection, table: str, column: str, n: int) -> list[int]:
    """n fresh keys from the table's own sequence (1..n in a fresh database)."""
    if n == 0:
        return []
    seq = conn.execute("SELECT pg_get_serial_sequence(%s, %s)", (f"public.{table}", column)).fetchone()[0]
    return [r[0] for r in conn.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", (seq, n)).fetchall()]


def _insert(conn: psycopg.Connection, table: str, rows: list[tuple], chunk: int = 1000) -> None:
    """Multi-row INSERT ... VALUES statements of up to `chunk` rows."""
    cols = COLUMNS[table]
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        row_sql = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(cols)))
        stmt = sql.SQL("INSERT INTO public.{} ({}) VALUES {}").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols)), sql.SQL(", ").join([row_sql] * len(part)))
        conn.execute(stmt, [v for row in part for v in row])


def seed(conn: psycopg.Connection, *, seed: int = 42, customers: int = 1000, products: int = 500, orders: int = 5000,
         anchor: date | None = None, append: bool = False, batch_rows: int = 5000,
         on_progress: Callable[[int], None] | None = None) -> SeedResult:
    """Fill the source with sample data. Skips (and says so) when the source already has data,
    unless `append`. `conn` must not be in autocommit: each batch is one transaction.

    `on_progress(n)` is called after each committed batch with the customers, products or orders
    it held (order lines ride along with their orders)."""
    anchor = anchor or date.today()
    on_progress = on_progress or (lambda n: None)
    ensure_schema(conn)
    conn.commit()
    existing = counts(conn)
    result = SeedResult(seed=seed, anchor_date=anchor, skipped=False, existing=existing)
    if any(existing.values()) and not append:
        result.skipped = True
        return result
    if orders and not (customers or existing["customers"]) or orders and not (products or existing["products"]):
        raise ValueError("orders need customers and products: ask for some, or seed into a source that has them")

    started = time.monotonic()
    gen = Generator(seed, anchor)

    def batched(table: str, rows: Iterator[tuple]) -> None:
        buffer: list[tuple] = []
        for row in rows:
            buffer.append(row)
            if len(buffer) >= batch_rows:
                _insert(conn, table, buffer)
                conn.commit()
                on_progress(len(buffer))
                result.inserted[table] += len(buffer)
                buffer = []
        if buffer:
            _insert(conn, table, buffer)
            conn.commit()
            on_progress(len(buffer))
            result.inserted[table] += len(buffer)

    batched("customers", gen.customers(_reserve_ids(conn, "customers", "customer_id", customers)))
    batched("products", gen.products(_reserve_ids(conn, "products", "product_id", products)))
    conn.commit()

    if orders:
        customer_ids = [r[0] for r in conn.execute("SELECT customer_id FROM public.customers ORDER BY customer_id")]
        prices = dict(conn.execute("SELECT product_id, price FROM public.products ORDER BY product_id").fetchall())
        order_ids = _reserve_ids(conn, "orders", "order_id", orders)
        # line ids: reserve as they are used, in blocks (the count of lines is known only as they are made)
        item_seq = conn.execute("SELECT pg_get_serial_sequence('public.order_items', 'order_item_id')").fetchone()[0]
        conn.commit()
        order_rows: list[tuple] = []
        item_rows: list[tuple] = []

        def flush():
            _insert(conn, "orders", order_rows)
            _insert(conn, "order_items", item_rows)
            conn.commit()
            on_progress(len(order_rows))
            result.inserted["orders"] += len(order_rows)
            result.inserted["order_items"] += len(item_rows)
            dates = [r[2] for r in order_rows]
            result.first_order_date = min(dates + ([result.first_order_date] if result.first_order_date else []))
            result.last_order_date = max(dates + ([result.last_order_date] if result.last_order_date else []))
            order_rows.clear()
            item_rows.clear()

        # Line ids come from the sequence: take one block big enough for every line (5 per order at
        # most), then give back what was not used, so the next line the application inserts follows on.
        block = _reserve_ids(conn, "order_items", "order_item_id", 1)
        next_item = block[0]
        generator = gen.orders(order_ids, next_item, customer_ids, prices)
        last_item = next_item - 1
        for order_row, lines in generator:
            order_rows.append(order_row)
            item_rows.extend(lines)
            last_item = lines[-1][0]
            if len(order_rows) + len(item_rows) >= batch_rows:
                flush()
        if order_rows:
            flush()
        if last_item >= next_item:
            conn.execute("SELECT setval(%s::regclass, greatest(%s, (SELECT coalesce(max(order_item_id), 1) FROM public.order_items)))",
                         (item_seq, last_item))
        conn.commit()
    result.seconds = time.monotonic() - started
    return result
