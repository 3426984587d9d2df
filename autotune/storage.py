"""Where tuning results live: an Optuna storage URL, plus two small tables of our own beside
Optuna's in the same database.

- `xltune_tuned_configs`: the best Config per (module, backend, device, version, knob schema),
  as JSON text (never pickle). Written by `tune`, read by every `xltune.compile`.
- `xltune_trial_budget`: one row per study, `claimed` and `cap`. A worker claims a trial slot
  with one conditional UPDATE (`claimed = claimed + 1 WHERE claimed < cap`) before every
  `study.ask()`: the database serialises those, so the study's trial count is exact however
  many processes or machines tune it at once.

Passwords never appear in messages: every URL shown goes through `mask_url`, every database
error through `scrub`.
"""
from __future__ import annotations

import os
import random
import secrets
import threading
from contextlib import contextmanager
import time
import warnings

from xltune.errors import TuningError
from xltune.paths import default_storage_url

HEARTBEAT_INTERVAL_S = 5   # a running trial records a heartbeat this often ...
GRACE_PERIOD_S = 20        # ... and is failed by the next worker to ask once this much passed without one

_ENGINES: dict[str, object] = {}
_ENGINES_LOCK = threading.Lock()


def resolve_url(storage=None) -> str:
    """The storage URL to use: the argument, else $XLTUNE_STORAGE, else the SQLite cache file."""
    if storage is not None and not isinstance(storage, str):
        url = getattr(storage, "url", None)
        if not isinstance(url, str):
            raise TuningError(f"storage must be a URL or an Optuna RDBStorage, got {type(storage).__name__}")
        return url
    return normalize_url(storage or os.environ.get("XLTUNE_STORAGE") or default_storage_url())


def normalize_url(url: str) -> str:
    """Pick an installed PostgreSQL driver for a bare postgresql:// URL: SQLAlchemy 2.1 means
    psycopg (3) by it, while xltune's `postgres` extra installs psycopg2."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.split("://", 1)[1]
    if url.startswith("postgresql://"):
        import importlib.util
        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
            return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def mask_url(url) -> str:
    """The URL with its password hidden (safe for messages, reprs and logs)."""
    if url is None:
        return "None"
    try:
        from sqlalchemy.engine import make_url
        return make_url(str(url)).render_as_string(hide_password=True)
    except Exception:
        return "<storage URL>"


def password_of(url) -> str | None:
    try:
        from sqlalchemy.engine import make_url
        return make_url(str(url)).password
    except Exception:
        return None


def scrub(text: str, url) -> str:
    """`text` (an error message, say) with the URL masked and the password blotted out."""
    text = str(text)
    if url is None:
        return text
    text = text.replace(str(url), mask_url(url))
    pw = password_of(url)
    if pw:
        text = text.replace(str(pw), "***")
    return text


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> str | None:
    """The file of a sqlite:/// URL (None for in-memory or other databases)."""
    if not is_sqlite(url):
        return None
    path = url.split("://", 1)[1] if "://" in url else ""
    path = path[1:] if path.startswith("/") else path  # sqlite:///rel or sqlite:////abs
    path = path.split("?", 1)[0]
    return path or None


def tune_sqlite(engine):
    """WAL journal and synchronous=NORMAL for a SQLite engine: a commit then costs microseconds
    instead of an fsync (a trial makes a few dozen), and readers never block the writer, which
    several tuning processes on one file need. A crash of the process loses nothing; a power
    cut may lose the last commits, never the file."""
    import sqlalchemy

    if not str(engine.url).startswith("sqlite"):
        return engine

    @sqlalchemy.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        finally:
            cur.close()
    engine.dispose()  # connections opened before the listener get the pragmas too
    return engine


def engine_kwargs(url: str) -> dict:
    if is_sqlite(url):
        # several processes share one file: wait for the lock instead of failing at once
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}


def engine_for(url: str):
    """One SQLAlchemy engine per URL and process."""
    url = normalize_url(url)
    with _ENGINES_LOCK:
        eng = _ENGINES.get(url)
        if eng is None:
            import sqlalchemy
            try:
                eng = sqlalchemy.create_engine(url, **engine_kwargs(url))
            except ImportError as e:
                raise TuningError(f"{mask_url(url)}: a database driver is missing: {e} "
                                  f"(PostgreSQL needs psycopg2: pip install 'xltune[postgres]')") from None
            except sqlalchemy.exc.ArgumentError as e:
                raise TuningError(f"not a usable storage URL: {mask_url(url)} ({scrub(str(e), url)})") from None
            _ENGINES[url] = tune_sqlite(eng)
        return eng


def _retry(fn, url, what: str, tries: int = 5):
    """Run fn, retrying transient database errors (two workers creating tables at once, a
    locked SQLite file); the final error is raised as a TuningError with the password masked."""
    import sqlalchemy.exc
    last = None
    for i in range(tries):
        try:
            return fn()
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError,
                sqlalchemy.exc.ProgrammingError) as e:
            last = e
            if not _transient(e):
                break
            time.sleep(0.2 * (i + 1) + random.random() * 0.3)
        except ImportError as e:
            raise TuningError(f"{what} ({mask_url(url)}): a database driver is missing: {e} "
                              f"(PostgreSQL needs psycopg2: pip install 'xltune[postgres]')") from None
    raise TuningError(f"{what} ({mask_url(url)}) failed: {scrub(_short(last), url)}") from None


_TRANSIENT = ("locked", "busy", "deadlock", "serializ", "already exists", "duplicate key")


def _transient(e) -> bool:
    """Worth another try: two workers creating the same tables, a locked SQLite file. A refused
    connection or a wrong password is not."""
    import sqlalchemy.exc
    if isinstance(e, (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError)):
        return True
    return any(w in str(e).lower() for w in _TRANSIENT)


def _short(e) -> str:
    return str(getattr(e, "orig", None) or e).strip().splitlines()[0] if e is not None else ""


# ---- our tables -----------------------------------------------------------------------------------

_TABLES = None


def tables():
    """(metadata, tuned_configs, trial_budget) — built on first use so importing is free."""
    global _TABLES
    if _TABLES is None:
        import sqlalchemy as sa
        md = sa.MetaData()
        tuned = sa.Table(
            "xltune_tuned_configs", md,
            sa.Column("key", sa.String(64), primary_key=True),   # sha256 of the key parts below
            sa.Column("module_digest", sa.String(64), nullable=False),
            sa.Column("backend", sa.String(64), nullable=False),
            sa.Column("fingerprint", sa.Text, nullable=False),
            sa.Column("version", sa.String(64), nullable=False),
            sa.Column("schema_token", sa.String(64), nullable=False),
            sa.Column("schema_digest", sa.String(64)),           # of the knobs seen while tuning
            sa.Column("config_json", sa.Text, nullable=False),
            sa.Column("default_s", sa.Float),
            sa.Column("best_s", sa.Float),
            sa.Column("speedup", sa.Float),
            sa.Column("study_name", sa.String(512)),
            sa.Column("n_trials", sa.Integer),
            sa.Column("entry", sa.Text),                         # the entry's signature, for listings
            sa.Column("updated_at", sa.Float, nullable=False),
        )
        budget = sa.Table(
            "xltune_trial_budget", md,
            sa.Column("study_name", sa.String(512), primary_key=True),
            sa.Column("cap", sa.Integer, nullable=False),
            sa.Column("claimed", sa.Integer, nullable=False),
            sa.Column("ready", sa.Integer, nullable=False, default=1),  # 0 while its creator prepares it
            sa.Column("lock_token", sa.String(64)),   # the finishing worker that holds the study
            sa.Column("lock_until", sa.Float),        # its lease (epoch seconds): a dead holder expires
        )
        _TABLES = (md, tuned, budget)
    return _TABLES


_CREATED: set[str] = set()


def ensure_tables(url: str):
    if url in _CREATED:
        return
    md, _, _ = tables()
    eng = engine_for(url)
    _retry(lambda: md.create_all(eng, checkfirst=True), url, "creating xltune tables")
    _CREATED.add(url)


# ---- Optuna storage -------------------------------------------------------------------------------

def open_optuna_storage(storage=None, heartbeat: bool = True):
    """An Optuna RDBStorage for `storage` (a URL, None for the default, or an RDBStorage as is),
    with heartbeats on so that a trial whose worker died is failed, not left running forever."""
    import optuna
    if storage is not None and not isinstance(storage, str):
        if isinstance(storage, optuna.storages.RDBStorage):
            return storage
        raise TuningError(f"storage must be a URL or an Optuna RDBStorage, got {type(storage).__name__}")
    url = resolve_url(storage)
    path = sqlite_path(url)
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    kw = dict(engine_kwargs=engine_kwargs(url))
    if heartbeat:
        kw.update(heartbeat_interval=int(os.environ.get("XLTUNE_HEARTBEAT_INTERVAL", HEARTBEAT_INTERVAL_S)),
                  grace_period=int(os.environ.get("XLTUNE_HEARTBEAT_GRACE", GRACE_PERIOD_S)))

    def make():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            rdb = optuna.storages.RDBStorage(url, **kw)
        tune_sqlite(rdb.engine)
        return rdb
    return _retry(make, url, "opening the Optuna storage")


# ---- the global trial cap -------------------------------------------------------------------------

def ensure_budget(url: str, study_name: str, cap: int, prepare=None, wait_s: float = 60.0) -> bool:
    """Make sure the study has a budget row with at least `cap` trials; True when this call
    created it. Its creator runs `prepare()` (enqueue the default trial) before any worker can
    claim a slot — others wait for the row to be ready — so trial 0 is always the prepared one."""
    import sqlalchemy as sa
    import sqlalchemy.exc
    ensure_tables(url)
    _, _, budget = tables()
    eng = engine_for(url)
    where = budget.c.study_name == study_name

    def insert():
        try:
            with eng.begin() as c:
                c.execute(budget.insert().values(study_name=study_name, cap=int(cap), claimed=0, ready=0))
            return True
        except sqlalchemy.exc.IntegrityError:
            return False

    def mark_ready():
        with eng.begin() as c:
            c.execute(budget.update().where(where).values(ready=1))

    if _retry(insert, url, "setting the study's trial budget"):
        try:
            if prepare is not None:
                prepare()
        finally:
            _retry(mark_ready, url, "setting the study's trial budget")
        return True
    deadline = time.monotonic() + wait_s
    while True:
        with eng.connect() as c:
            ready = c.execute(sa.select(budget.c.ready).where(where)).scalar()
        if ready or time.monotonic() > deadline:
            break  # past the deadline its creator has died: go on without it
        time.sleep(0.1)

    def raise_cap():
        with eng.begin() as c:
            c.execute(budget.update().where(where).where(budget.c.cap < int(cap)).values(cap=int(cap), ready=1))
            c.execute(budget.update().where(where).values(ready=1))
    _retry(raise_cap, url, "setting the study's trial budget")
    return False


def claim_trial(url: str, study_name: str) -> bool:
    """Atomically take one trial slot; False once the study's cap is reached."""
    _, _, budget = tables()
    eng = engine_for(url)

    def go():
        with eng.begin() as c:
            r = c.execute(budget.update()
                          .where(budget.c.study_name == study_name)
                          .where(budget.c.claimed < budget.c.cap)
                          .values(claimed=budget.c.claimed + 1))
            return r.rowcount == 1
    return _retry(go, url, "claiming a trial slot")


def budget_state(url: str, study_name: str) -> tuple[int, int] | None:
    """(claimed, cap) of a study, None when it has no budget row."""
    import sqlalchemy as sa
    ensure_tables(url)
    _, _, budget = tables()
    with engine_for(url).connect() as c:
        row = c.execute(sa.select(budget.c.claimed, budget.c.cap)
                        .where(budget.c.study_name == study_name)).first()
    return (int(row[0]), int(row[1])) if row else None


@contextmanager
def study_lock(url: str, study_name: str, lease_s: float = 120.0, wait_s: float = 600.0):
    """Hold the study's lock (a lease on its budget row) for a few writes that must not
    interleave with another worker's: the final choice's study attrs and tuned-config row."""
    _, _, budget = tables()
    eng = engine_for(url)
    token = secrets.token_hex(8)
    deadline = time.monotonic() + wait_s

    def take():
        now = time.time()
        with eng.begin() as c:
            r = c.execute(budget.update()
                          .where(budget.c.study_name == study_name)
                          .where((budget.c.lock_token.is_(None)) | (budget.c.lock_until < now))
                          .values(lock_token=token, lock_until=now + lease_s))
            return r.rowcount == 1
    while not _retry(take, url, "locking the study"):
        if time.monotonic() > deadline:
            raise TuningError(f"study {study_name!r}: another worker held its lock for {wait_s:.0f} s")
        time.sleep(0.1 + random.random() * 0.2)
    try:
        yield
    finally:
        def give():
            with eng.begin() as c:
                c.execute(budget.update().where(budget.c.study_name == study_name)
                          .where(budget.c.lock_token == token).values(lock_token=None, lock_until=None))
        _retry(give, url, "unlocking the study")
