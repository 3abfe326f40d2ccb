"""The proposal's three business scenarios, played against a running pipeline.

Each scenario makes its change in the source (as the application would), waits until the
warehouse has applied it (pipeline.wait_for_warehouse with a predicate on `dw`: no fixed sleeps),
then answers the scenario's questions with SQL on the warehouse. The SQL is returned with its rows,
so a reader can paste it into psql and see the same thing; the story lines are written from those
rows, not from what the scenario expected.

1. customer-move: a customer with past orders moves (SCD Type 2 on dim_customer), then orders.
2. price-change: a product's price goes from 100 to 120 with an order before and one after.
3. new-order: an order with three lines becomes three facts; today's revenue grows by its total.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import psycopg
from psycopg import sql

from whctl import pipeline
from whctl.config import Settings
from whctl.db import connect
from whctl.output import WhctlError, table

SCENARIOS = ("customer-move", "price-change", "new-order")
WAIT_SECONDS = 120


@dataclass
class Query:
    question: str
    sql: str
    columns: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"question": self.question, "sql": self.sql, "columns": self.columns, "rows": self.rows}


@dataclass
class Story:
    scenario: str
    title: str
    lines: list[str] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    waited_seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"scenario": self.scenario, "title": self.title, "story": self.lines, "facts": self.facts,
                "waited_seconds": round(self.waited_seconds, 2), "queries": [q.as_dict() for q in self.queries]}


class Demo:
    """Connections to both databases and the helpers the scenarios share."""

    def __init__(self, settings: Settings, timeout: float = WAIT_SECONDS):
        self.settings = settings
        self.timeout = timeout
        self.src = connect(settings, "source")
        self.wh = connect(settings, "warehouse", autocommit=True)
        self.rng = random.Random()
        self._check_ready()
        # the application's timestamps are local time of the source's zone, the one the warehouse
        # stores (design.md, promise 2)
        self.timezone = self.wh.execute("SELECT value FROM ops.settings WHERE name = 'source_timezone'").fetchone()[0]
        self.src.execute(sql.SQL("SET TIME ZONE {}").format(sql.Literal(self.timezone)))
        self.src.commit()

    def close(self) -> None:
        self.src.close()
        self.wh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _check_ready(self) -> None:
        if self.wh.execute("SELECT to_regclass('dw.fact_orders')").fetchone()[0] is None:
            raise WhctlError("the warehouse has no star schema yet", hint="run `whctl deploy` first")
        if self.src.execute("SELECT to_regclass('whctl.heartbeat')").fetchone()[0] is None:
            raise WhctlError("the source is not prepared for CDC", hint="run `whctl deploy` first")
        has = self.src.execute("SELECT to_regclass('public.orders') IS NOT NULL AND EXISTS (SELECT FROM public.orders)").fetchone()[0]
        self.src.rollback()
        if not has:
            raise WhctlError("the source has no orders to tell a story with", hint="run `whctl seed` first")

    # --- source and warehouse helpers ----------------------------------------------------------
    def one(self, conn: psycopg.Connection, query: str, *args) -> tuple | None:
        return conn.execute(query, args).fetchone()

    def wait(self, what: str, predicate: Callable[[psycopg.Connection], bool]) -> float:
        """Wait until the warehouse has caught up with the source and `predicate` holds."""
        try:
            return pipeline.wait_for_warehouse(self.settings, timeout=self.timeout, predicate=predicate)
        except WhctlError as exc:
            raise WhctlError(f"waiting for the warehouse to show {what}: {exc.message}") from None

    def ask(self, question: str, query: str) -> Query:
        cur = self.wh.execute(query)
        columns = [d.name for d in cur.description]
        rows = [dict(zip(columns, r)) for r in cur.fetchall()]
        return Query(question, query.strip(), columns, rows)

    def place_order(self, customer_id: int, lines: list[tuple[int, int]]) -> tuple[int, list[int], Decimal]:
        """An order as the application writes it: order row, then its lines at the current prices."""
        order_id = self.one(self.src, "INSERT INTO public.orders (customer_id, order_date, status, total_amount)"
                                      " VALUES (%s, LOCALTIMESTAMP, 'pending', 0) RETURNING order_id", customer_id)[0]
        item_ids = []
        for product_id, quantity in lines:
            item_ids.append(self.one(self.src,
                "INSERT INTO public.order_items (order_id, product_id, quantity, unit_price, line_total)"
                " SELECT %s, product_id, %s, price, price * %s FROM public.products WHERE product_id = %s"
                " RETURNING order_item_id", order_id, quantity, quantity, product_id)[0])
        total = self.one(self.src, "UPDATE public.orders SET total_amount = (SELECT sum(line_total) FROM public.order_items"
                                   " WHERE order_id = %s) WHERE order_id = %s RETURNING total_amount", order_id, order_id)[0]
        self.src.commit()
        return order_id, item_ids, total

    def facts_resolved(self, order_id: int, lines: int) -> Callable[[psycopg.Connection], bool]:
        """The order's lines are facts pointing to real members (not unknown or inferred ones)."""
        def check(wh: psycopg.Connection) -> bool:
            return wh.execute(
                "SELECT count(*) FROM dw.fact_orders f JOIN dw.dim_customer c ON c.customer_key = f.customer_key"
                " JOIN dw.dim_product p ON p.product_key = f.product_key"
                " WHERE f.order_id = %s AND f.date_key > 0 AND NOT c.is_inferred AND NOT p.is_inferred"
                " AND c.customer_id > 0 AND p.product_id > 0", (order_id,)).fetchone()[0] == lines
        return check


def _tz(demo: Demo) -> str:
    return demo.timezone.replace("'", "''")


# --- scenario 1 -----------------------------------------------------------------------------------

def customer_move(demo: Demo) -> Story:
    story = Story("customer-move", "Scenario 1: a customer moves (SCD Type 2 on dim_customer)")
    row = demo.one(demo.src, """
        SELECT c.customer_id, c.first_name || ' ' || c.last_name, c.address, c.city, c.country,
               coalesce(max(o.order_id) FILTER (WHERE o.order_date < CURRENT_DATE), max(o.order_id)), count(*)
        FROM public.customers c JOIN public.orders o USING (customer_id)
        GROUP BY c.customer_id ORDER BY count(*) DESC, c.customer_id LIMIT 1""")
    demo.src.rollback()
    customer_id, name, old_address, old_city, country, old_order, n_orders = row
    waited = demo.wait(f"customer {customer_id} and order {old_order}", lambda wh: wh.execute(
        "SELECT EXISTS (SELECT FROM dw.dim_customer WHERE customer_id = %s AND is_current AND NOT is_inferred AND address IS NOT DISTINCT FROM %s)"
        " AND EXISTS (SELECT FROM dw.fact_orders WHERE order_id = %s)", (customer_id, old_address, old_order)).fetchone()[0])
    versions_before = demo.one(demo.wh, "SELECT count(*) FROM dw.dim_customer WHERE customer_id = %s", customer_id)[0]

    from faker import Faker

    from whctl.seeding import LOCALES

    locale = next((loc for loc, (c, _) in LOCALES.items() if c == country), "en_US")
    fake = Faker(locale)  # a move within the same country
    fake.seed_instance(demo.rng.randrange(1 << 30))
    new_address, new_city = fake.street_address(), fake.city()
    while new_city == old_city:
        new_city = fake.city()
    demo.src.execute("UPDATE public.customers SET address = %s, city = %s, updated_at = LOCALTIMESTAMP WHERE customer_id = %s",
                     (new_address, new_city, customer_id))
    demo.src.commit()
    waited += demo.wait(f"the new address of customer {customer_id}", lambda wh: wh.execute(
        "SELECT EXISTS (SELECT FROM dw.dim_customer WHERE customer_id = %s AND is_current AND address = %s AND city = %s)",
        (customer_id, new_address, new_city)).fetchone()[0])

    product_id = demo.one(demo.src, "SELECT product_id FROM public.products ORDER BY product_id LIMIT 1")[0]
    new_order, _, total = demo.place_order(customer_id, [(product_id, 1)])
    waited += demo.wait(f"order {new_order}", demo.facts_resolved(new_order, 1))
    story.waited_seconds = waited

    story.queries = [
        demo.ask(f"The versions of customer {customer_id}", f"""
SELECT customer_key, version, address, city, country, valid_from, valid_to, is_current
FROM dim_customer
WHERE customer_id = {customer_id}
ORDER BY version;"""),
        demo.ask(f"Where did customer {customer_id} live when orders {old_order} and {new_order} were placed?", f"""
SELECT DISTINCT f.order_id, f.order_date, c.version, c.address, c.city, c.country
FROM fact_orders f
JOIN dim_customer c ON c.customer_key = f.customer_key
WHERE f.order_id IN ({old_order}, {new_order})
ORDER BY f.order_date;"""),
        demo.ask(f"The latest orders of customer {customer_id} and the version each points to", f"""
SELECT DISTINCT f.order_id, f.order_date, f.order_status, c.customer_key, c.version, c.city
FROM fact_orders f
JOIN dim_customer c ON c.customer_key = f.customer_key
WHERE c.customer_id = {customer_id}
ORDER BY f.order_date DESC
LIMIT 5;"""),
    ]
    versions = story.queries[0].rows
    where = {r["order_id"]: r for r in story.queries[1].rows}
    old, new = where[old_order], where[new_order]
    story.facts = {"customer_id": customer_id, "old_order_id": old_order, "new_order_id": new_order,
                   "old_city": old_city, "new_city": new_city, "old_address": old_address, "new_address": new_address,
                   "versions_before": versions_before, "versions_after": len(versions)}
    story.lines = [
        f"Customer {customer_id} ({name}) lived at {old_address}, {old_city} ({country}) and had {n_orders} orders.",
        f"They moved to {new_address}, {new_city}: one UPDATE in the source.",
        f"dim_customer now holds {len(versions)} versions of customer {customer_id} (it had {versions_before}): "
        f"version {versions[-2]['version']} closed at {versions[-2]['valid_to']}, version {versions[-1]['version']} is current.",
        f"They then placed order {new_order} ({total}): its fact points to version {new['version']} ({new['city']}).",
        f"Their earlier order {old_order} of {old['order_date']:%Y-%m-%d} still points to version {old['version']} ({old['city']}).",
    ]
    return story


# --- scenario 2 -----------------------------------------------------------------------------------

def price_change(demo: Demo) -> Story:
    story = Story("price-change", "Scenario 2: a product's price goes from 100 to 120 (SCD Type 2 on dim_product)")
    row = demo.one(demo.src, """
        SELECT product_id, product_name, price FROM public.products
        ORDER BY price NOT BETWEEN 50 AND 150, abs(price - 95), product_id LIMIT 1""")
    product_id, product_name, start_price = row
    customer_id = demo.one(demo.src, "SELECT max(customer_id) FROM public.customers")[0]
    demo.src.rollback()
    waited = 0.0

    def price_is(price: int):
        return lambda wh: wh.execute(
            "SELECT EXISTS (SELECT FROM dw.dim_product WHERE product_id = %s AND is_current AND NOT is_inferred AND price = %s)",
            (product_id, price)).fetchone()[0]

    if start_price != 100:
        demo.src.execute("UPDATE public.products SET price = 100, updated_at = LOCALTIMESTAMP WHERE product_id = %s", (product_id,))
        demo.src.commit()
    waited += demo.wait(f"product {product_id} at 100", price_is(100))
    before_order, _, _ = demo.place_order(customer_id, [(product_id, 1)])
    waited += demo.wait(f"order {before_order}", demo.facts_resolved(before_order, 1))

    demo.src.execute("UPDATE public.products SET price = 120, updated_at = LOCALTIMESTAMP WHERE product_id = %s", (product_id,))
    demo.src.commit()
    waited += demo.wait(f"product {product_id} at 120", price_is(120))
    after_order, _, _ = demo.place_order(customer_id, [(product_id, 1)])
    waited += demo.wait(f"order {after_order}", demo.facts_resolved(after_order, 1))
    story.waited_seconds = waited

    story.queries = [
        demo.ask(f"The versions of product {product_id}", f"""
SELECT product_key, version, price, cost, margin_percentage, valid_from, valid_to, is_current
FROM dim_product
WHERE product_id = {product_id}
ORDER BY version;"""),
        demo.ask(f"What was the price when orders {before_order} and {after_order} were placed?", f"""
SELECT f.order_id, f.order_date, p.version, p.price AS price_at_order_time, f.unit_price, f.quantity
FROM fact_orders f
JOIN dim_product p ON f.product_key = p.product_key
WHERE p.product_id = {product_id}
  AND f.order_id IN ({before_order}, {after_order})
ORDER BY f.order_date;"""),
        demo.ask(f"The average price of product {product_id} at order time, per quarter", f"""
SELECT d.year, d.quarter, round(avg(p.price), 2) AS avg_price_at_order_time, count(*) AS order_lines
FROM fact_orders f
JOIN dim_product p ON f.product_key = p.product_key
JOIN dim_date d ON f.date_key = d.date_key
WHERE p.product_id = {product_id}
GROUP BY d.year, d.quarter
ORDER BY d.year, d.quarter;"""),
    ]
    versions = story.queries[0].rows
    at = {r["order_id"]: r for r in story.queries[1].rows}
    story.facts = {"product_id": product_id, "before_order_id": before_order, "after_order_id": after_order,
                   "price_before": at[before_order]["price_at_order_time"], "price_after": at[after_order]["price_at_order_time"],
                   "versions": len(versions)}
    story.lines = [
        f"Product {product_id} ({product_name}) cost {start_price}"
        + ("." if start_price == 100 else "; set to 100 first so the story starts where the proposal's does."),
        f"Order {before_order} bought it at 100. Then the price went up to 120 (one UPDATE), and order {after_order} bought it at 120.",
        f"dim_product holds {len(versions)} versions of product {product_id}; the current one costs {versions[-1]['price']}.",
        f"Order {before_order} points to version {at[before_order]['version']} (price {at[before_order]['price_at_order_time']}), "
        f"order {after_order} to version {at[after_order]['version']} (price {at[after_order]['price_at_order_time']}).",
    ]
    return story


# --- scenario 3 -----------------------------------------------------------------------------------

def new_order(demo: Demo) -> Story:
    story = Story("new-order", "Scenario 3: a new order with 3 items becomes 3 facts")
    tz = _tz(demo)
    revenue_sql = f"""
SELECT d.date, SUM(f.line_total) AS revenue, COUNT(DISTINCT f.order_id) AS orders
FROM fact_orders f
JOIN dim_date d ON f.date_key = d.date_key
WHERE d.date = (now() AT TIME ZONE '{tz}')::date  -- today, in the source's time zone
GROUP BY d.date;"""
    # what the warehouse says before: wait for the pipeline to be quiet first
    demo.wait("everything committed so far", lambda wh: True)
    before = demo.ask("Total revenue today, before", revenue_sql).rows
    revenue_before = before[0]["revenue"] if before else Decimal("0.00")

    n_customers, n_products = demo.one(demo.src, "SELECT (SELECT count(*) FROM public.customers), (SELECT count(*) FROM public.products)")
    if n_products < 3:
        raise WhctlError(f"the source has {n_products} products; the new order needs 3", hint="run `whctl seed`")
    customer_id, name = demo.one(demo.src, "SELECT customer_id, first_name || ' ' || last_name FROM public.customers"
                                           " ORDER BY customer_id DESC LIMIT 1 OFFSET %s", demo.rng.randrange(min(20, n_customers)))
    products = [r[0] for r in demo.src.execute(
        "SELECT product_id FROM public.products ORDER BY product_id LIMIT 3 OFFSET %s",
        (demo.rng.randrange(min(50, n_products - 2)),)).fetchall()]
    demo.src.rollback()
    lines = [(pid, q) for pid, q in zip(products, (1, 2, 1))]
    order_id, item_ids, total = demo.place_order(customer_id, lines)
    story.waited_seconds = demo.wait(f"the {len(lines)} lines of order {order_id}", demo.facts_resolved(order_id, len(lines)))

    story.queries = [
        demo.ask(f"The facts of order {order_id} and the versions they resolved to", f"""
SELECT f.order_item_id, c.customer_id, f.customer_key, c.version AS customer_version,
       p.product_name, f.product_key, p.version AS product_version, f.date_key,
       f.quantity, f.unit_price, f.line_total, f.order_status
FROM fact_orders f
JOIN dim_customer c ON c.customer_key = f.customer_key
JOIN dim_product p ON p.product_key = f.product_key
WHERE f.order_id = {order_id}
ORDER BY f.order_item_id;"""),
        demo.ask("What was total revenue today?", revenue_sql),
    ]
    facts = story.queries[0].rows
    after = story.queries[1].rows
    revenue_after = after[0]["revenue"] if after else Decimal("0.00")
    story.facts = {"order_id": order_id, "order_item_ids": item_ids, "order_total": total, "customer_id": customer_id,
                   "revenue_before": revenue_before, "revenue_after": revenue_after, "fact_rows": len(facts)}
    story.lines = [
        f"Customer {customer_id} ({name}) placed order {order_id}: {len(lines)} items, {total} in total.",
        f"The warehouse turned it into {len(facts)} rows of fact_orders (one per order line), each pointing to the customer's "
        f"and the product's version current at the order's time, and to date {facts[0]['date_key'] if facts else '?'}.",
        f"Revenue today went from {revenue_before} to {revenue_after}.",
    ]
    return story


RUNNERS = {"customer-move": customer_move, "price-change": price_change, "new-order": new_order}


def run(settings: Settings, names: list[str], timeout: float = WAIT_SECONDS) -> list[Story]:
    stories = []
    with Demo(settings, timeout) as demo:
        for name in names:
            started = time.monotonic()
            story = RUNNERS[name](demo)
            story.facts["seconds"] = round(time.monotonic() - started, 2)
            stories.append(story)
    return stories


def render(stories: list[dict]) -> str:
    out = []
    for s in stories:
        out.append(f"== {s['title']} ==")
        out += [f"  {line}" for line in s["story"]]
        out.append(f"  (waited {s['waited_seconds']:.1f}s in total for the warehouse to show the changes)")
        for q in s["queries"]:
            out.append("")
            out.append(f"-- {q['question']}")
            out.append(q["sql"])
            out += ["  " + line for line in table([{k: _show(v) for k, v in r.items()} for r in q["rows"]], q["columns"]).splitlines()]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _show(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat") and hasattr(value, "microsecond"):
        return value.isoformat(sep=" ", timespec="seconds") if value.microsecond == 0 else value.isoformat(sep=" ", timespec="milliseconds")
    return str(value)
