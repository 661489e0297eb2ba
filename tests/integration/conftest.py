import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from bulwark_harness import Cluster, MariaDB  # noqa: E402


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory):
    base = tmp_path_factory.mktemp("db")
    (base / "logs").mkdir()
    db = MariaDB(base)
    db.start()
    yield db
    db.stop()


@pytest.fixture
def cluster(tmp_path, mariadb, request):
    """A fresh database schema, keys and a master; tests start the nodes they need."""
    name = "bulwark_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:40]
    mariadb.sql(f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}")
    c = Cluster(tmp_path, mariadb)
    c.db_name = name
    orig = c.master_conf
    c.master_conf = lambda extra="": orig(f"db_name = {name}\n" + extra)
    yield c
    rcs = c.stop_all()
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else False
    if failed or any(rc != 0 for rc in rcs.values()):
        print(c.dump_logs())
    bad = {k: v for k, v in rcs.items() if v != 0}
    assert not bad, f"processes exited uncleanly on SIGTERM (ASan leak report?): {bad}"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
