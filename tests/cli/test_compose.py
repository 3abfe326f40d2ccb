"""docker-compose.yml offers the local stack's four services with the same ports and defaults.

Docker does not run here; this checks the file against Settings and connectors/pom.xml.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import yaml

from whctl.config import PROJECT_ROOT, Settings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def pom_versions() -> dict[str, str]:
    props = ET.parse(PROJECT_ROOT / "connectors" / "pom.xml").getroot().find("m:properties", POM_NS)
    return {child.tag.split("}")[1]: child.text for child in props}


def _published(service: dict) -> list[tuple[str, int, int]]:
    result = []
    for mapping in service["ports"]:
        host, published, target = str(mapping).split(":")
        result.append((host, int(published), int(target)))
    return result


def test_the_five_services(compose):
    assert set(compose["services"]) == {"source", "warehouse", "kafka", "connect", "supervisor"}


def test_the_supervisor_watches_the_compose_services(compose):
    service = compose["services"]["supervisor"]
    env = service["environment"]
    assert "whctl supervise" in service["command"][-1]
    assert env["WH_CONNECT_URL"] == "http://connect:8083"
    assert env["WH_KAFKA_BOOTSTRAP"] == compose["services"]["connect"]["environment"]["BOOTSTRAP_SERVERS"]
    assert env["WH_SOURCE_DSN"].endswith("@source:5432/ecommerce") and env["WH_WAREHOUSE_DSN"].endswith("@warehouse:5432/warehouse")
    assert set(service["depends_on"]) == {"connect", "kafka", "source", "warehouse"}


def test_ports_match_settings_and_are_loopback_only(compose):
    d = Settings()
    expected = {"source": (d.source_port, 5432), "warehouse": (d.warehouse_port, 5432),
                "kafka": (d.kafka_port, d.kafka_port), "connect": (d.connect_port, 8083)}
    assert "ports" not in compose["services"]["supervisor"]  # it listens on nothing
    for name, (published, target) in expected.items():
        assert _published(compose["services"][name]) == [(d.host, published, target)], name


def test_postgres_defaults_match_settings(compose):
    d = Settings()
    services = compose["services"]
    for name, dbname in (("source", d.source_db), ("warehouse", d.warehouse_db)):
        env = services[name]["environment"]
        assert services[name]["image"] == "postgres:15"
        assert env["POSTGRES_DB"] == dbname
        assert env["POSTGRES_USER"] == d.pg_user
    assert "wal_level=logical" in services["source"]["command"]


def test_no_literal_password(compose):
    text = COMPOSE.read_text()
    for service in compose["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key:
                assert re.fullmatch(r"\$\{WH_POSTGRES_PASSWORD:\?[^}]+\}", str(value)), (key, value)
    assert "WH_POSTGRES_PASSWORD" in text


def test_versions_match_the_local_runtime(compose, pom_versions):
    services = compose["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{pom_versions['version.kafka']}"
    assert services["connect"]["image"] == f"quay.io/debezium/connect:{pom_versions['version.debezium']}"


def test_kafka_is_single_node_kraft_with_replication_factor_one(compose):
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "127.0.0.1:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    for key, value in env.items():
        if key.endswith(("REPLICATION_FACTOR", "MIN_ISR", "MIN_INSYNC_REPLICAS")):
            assert int(value) == 1, key


def test_connect_matches_the_local_worker(compose):
    env = compose["services"]["connect"]["environment"]
    assert env["BOOTSTRAP_SERVERS"].startswith("kafka:")
    assert env["CONNECT_VALUE_CONVERTER_SCHEMAS_ENABLE"] == "true"
    assert "file" in env["CONNECT_CONFIG_PROVIDERS"].split(",")
    for key in ("CONFIG", "OFFSET", "STATUS"):
        assert int(env[f"{key}_STORAGE_REPLICATION_FACTOR"]) == 1
