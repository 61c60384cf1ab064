"""vdiprotect settings: one module, read from the environment, with safe defaults.

Every variable is documented in README.md ("Configuration reference"). Secrets may be
given directly or as a file path in ``<NAME>_FILE`` (container secrets).
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.str("ENV_FILE", default=""):
    # Optional: a KEY=value file (e.g. .testenv/env); real environment variables win.
    environ.Env.read_env(env.str("ENV_FILE"), overwrite=False)


def env_secret(name, default=None):
    """The value of NAME, or the contents of the file named by NAME_FILE."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from exc
    return env.str(name, default=default)


DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env_secret("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-DEBUG"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API docs page's Redoc served from here, not a CDN (air-gapped estates)
    "axes",
    "restore",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the language: the person's choice, else Accept-Language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "restore.web.language.PersonLanguageMiddleware",  # a choice made once follows the person; emails use it
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "restore.accounts.middleware.RequestIdMiddleware",
    "restore.accounts.middleware.ContentSecurityPolicyMiddleware",
    "restore.accounts.middleware.UtcPagesMiddleware",
    "restore.accounts.middleware.IdentityRefreshMiddleware",
    "axes.middleware.AxesMiddleware",
    "restore.web.files.FileServerRefusals",  # a file-server refusal (delegation) is a 403 page, never a 500
]

ROOT_URLCONF = "vdiprotect.urls"
WSGI_APPLICATION = "vdiprotect.wsgi.application"
ASGI_APPLICATION = "vdiprotect.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "restore.web.context_processors.portal",
            ],
            "libraries": {"portal": "restore.web.templatetags"},  # times in UTC, sizes, translated notes
        },
    },
]

# Database: PostgreSQL from DATABASE_URL; without it an embedded SQLite file in DATA_DIR (no server).
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))
database_url = env.str("DATABASE_URL", default="")  # lower case: not a setting, so no page ever shows it
if not database_url:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db_url_config(database_url or f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
SQLITE_BUSY_SECONDS = env.float("SQLITE_BUSY_SECONDS", default=30.0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, workers and beat share the file: readers never wait for the writer (WAL), a transaction takes
    # the write lock when it begins (so a read-then-write, like the audit chain head, cannot interleave
    # with another writer's), and a writer waits its turn instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE", "timeout": SQLITE_BUSY_SECONDS,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        **DATABASES["default"].get("OPTIONS", {})}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache (snapshot lists, directory lookups): Redis, shared by web and workers.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": "vdiprotect",
    }
}

# Celery (see vdiprotect/celery.py): JSON only, tasks take IDs.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
RESTORE_MAX_SECONDS = env.int("RESTORE_MAX_SECONDS", default=4 * 3600)
# Restores (restore/restores/service.py, restore/restores/runner.py, restore/restores/tasks.py)
RESTORE_MAX_ITEMS = env.int("RESTORE_MAX_ITEMS", default=200)  # items picked in one request
RESTORE_MAX_FILES = env.int("RESTORE_MAX_FILES", default=50000)  # files in one job, folders expanded
RESTORE_MAX_ACTIVE_PER_USER = env.int("RESTORE_MAX_ACTIVE_PER_USER", default=3)
RESTORE_KEEP_FOLDER = env.str("RESTORE_KEEP_FOLDER", default="")  # below the root; empty: beside the file
RESTORE_COPY_METHOD = env.str("RESTORE_COPY_METHOD", default="auto")  # auto (server-side when possible) | stream
RESTORE_STALE_SECONDS = env.int("RESTORE_STALE_SECONDS", default=60)  # a running job silent this long is taken over
RESTORE_REQUEUE_SECONDS = env.int("RESTORE_REQUEUE_SECONDS", default=300)  # queued this long: queued again
RESTORE_RETRIES = env.int("RESTORE_RETRIES", default=8)  # after a lost connection, with backoff
# The sweep: jobs a broker lost or could not take (sent again), failed items' leftovers (tidied once the server answers).
RESTORE_SWEEP_SECONDS = env.int("RESTORE_SWEEP_SECONDS", default=10)
PORTAL_URL = env.str("PORTAL_URL", default="")  # e.g. https://restore.example.com, for links in emails
# Helpdesk-initiated restores are announced here when they end (restore/restores/webhook.py): a Microsoft
# Teams webhook (URL on *.webhook.office.com, *.logic.azure.com...) gets an Adaptive Card, anything else JSON.
RESTORE_WEBHOOK_URL = env_secret("RESTORE_WEBHOOK_URL", default="")
RESTORE_WEBHOOK_FORMAT = env.str("RESTORE_WEBHOOK_FORMAT", default="auto")  # auto | teams | json
if RESTORE_WEBHOOK_FORMAT not in ("auto", "teams", "json"):
    raise ImproperlyConfigured("RESTORE_WEBHOOK_FORMAT must be auto, teams or json.")
RESTORE_WEBHOOK_TIMEOUT = env.float("RESTORE_WEBHOOK_TIMEOUT", default=10.0)
CELERY_BEAT_SCHEDULE = {
    "restore-sweep": {"task": "vdiprotect.restore.sweep", "schedule": float(RESTORE_SWEEP_SECONDS)},
}
# The task modules (names pinned in each @shared_task, so moving a module never strands a queued message).
CELERY_IMPORTS = ["restore.restores.tasks", "restore.catalog.tasks"]
# Snapshot catalog (restore/catalog/, docs/catalog.md): built by restore/catalog/tasks.py.
CATALOG_SHARES = env.list("CATALOG_SHARES", default=[])  # UNCs; empty: the shares USER_ROOTS point into
# What is inside each profile container of USER_ROOTS' container kinds, one source per container found.
CATALOG_CONTAINERS = env.bool("CATALOG_CONTAINERS", default=True)
CATALOG_REFRESH_SECONDS = env.int("CATALOG_REFRESH_SECONDS", default=900)
CATALOG_ACL_CHECK = env.str("CATALOG_ACL_CHECK", default="every-snapshot")  # every-snapshot | on-change
if CATALOG_ACL_CHECK not in ("every-snapshot", "on-change"):
    raise ImproperlyConfigured("CATALOG_ACL_CHECK must be every-snapshot or on-change.")
CATALOG_TASK_SECONDS = env.int("CATALOG_TASK_SECONDS", default=600)  # then the build continues in a new task
CATALOG_LEASE_SECONDS = env.int("CATALOG_LEASE_SECONDS", default=600)  # a dead builder's hold on a source
CELERY_BEAT_SCHEDULE["catalog-refresh"] = {"task": "vdiprotect.catalog.refresh",
                                           "schedule": float(CATALOG_REFRESH_SECONDS)}
# Catalog builds have a queue of their own ("catalog", a worker of its own in docker-compose.yml), so a long
# build never holds the worker a restore waits for; restores and the sweep stay on the default queue ("celery").
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {"vdiprotect.catalog.*": {"queue": "catalog"}}
# The broker must not hand a running restore to a second worker: visibility > longest restore.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": RESTORE_MAX_SECONDS + 3600}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# Authentication: Active Directory for people, Django's ModelBackend for the local
# emergency administrator (admin site only, see restore.accounts.backends).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "restore.accounts.backends.ActiveDirectoryBackend",
    "restore.accounts.backends.EmergencyAdminBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Active Directory (LDAPS or StartTLS, certificate always verified).
LDAP_URI = env.str("LDAP_URI", default="")
LDAP_START_TLS = env.bool("LDAP_START_TLS", default=False)
LDAP_CA_FILE = env.str("LDAP_CA_FILE", default="")
LDAP_BIND_DN = env.str("LDAP_BIND_DN", default="")
LDAP_BIND_PASSWORD = env_secret("LDAP_BIND_PASSWORD", default="")
LDAP_USER_SEARCH_BASE = env.str("LDAP_USER_SEARCH_BASE", default="")
LDAP_DOMAIN = env.str("LDAP_DOMAIN", default="")  # NetBIOS name, for DOMAIN\user sign-ins
LDAP_UPN_SUFFIX = env.str("LDAP_UPN_SUFFIX", default="")  # for user@suffix sign-ins
LDAP_TIMEOUT = env.int("LDAP_TIMEOUT", default=10)
# How the portal's own lookups bind: simple (LDAP_BIND_DN + LDAP_BIND_PASSWORD) or gssapi (SASL GSSAPI,
# Kerberos from the service account's keytab LDAP_KEYTAB, default SMB_KEYTAB; no password). People's
# own sign-in: LDAP_PASSWORD_CHECK below.
LDAP_AUTH = env.str("LDAP_AUTH", default="simple")
if LDAP_AUTH not in ("simple", "gssapi"):
    raise ImproperlyConfigured(f"LDAP_AUTH must be simple or gssapi, not {LDAP_AUTH!r}.")
LDAP_KEYTAB = env.str("LDAP_KEYTAB", default="")
# How a person's password is verified: bind (an LDAP simple bind as them) or kerberos (a TGT from the
# password, then a ticket to LDAP_PASSWORD_SPN, default the keytab's own principal, accepted with the
# keytab): for DCs that refuse simple binds (NTLM disabled).
LDAP_PASSWORD_CHECK = env.str("LDAP_PASSWORD_CHECK", default="bind")
if LDAP_PASSWORD_CHECK not in ("bind", "kerberos"):
    raise ImproperlyConfigured(f"LDAP_PASSWORD_CHECK must be bind or kerberos, not {LDAP_PASSWORD_CHECK!r}.")
LDAP_PASSWORD_SPN = env.str("LDAP_PASSWORD_SPN", default="")
ROLE_USER_GROUP = env.str("ROLE_USER_GROUP", default="")  # empty: Domain Users of the domain
ROLE_HELPDESK_GROUP = env.str("ROLE_HELPDESK_GROUP", default="")
ROLE_AUDITOR_GROUP = env.str("ROLE_AUDITOR_GROUP", default="")
IDENTITY_REFRESH_SECONDS = env.int("IDENTITY_REFRESH_SECONDS", default=900)

# Helpdesk "act for" (restore/helpdesk/people.py) and the audit trail's forwarding (restore/audit/syslog.py).
# HELPDESK_SCOPES: JSON {helpdesk group DN: [group or OU DNs its members may act for]}; empty: every
# helpdesk member may act for every portal user. Protected accounts (Domain Admins...) never.
HELPDESK_SCOPES = env.json("HELPDESK_SCOPES", default={})
# HELPDESK_PROTECTED_GROUPS: group DNs, ';'-separated, whose members nobody may act for (beyond the built-in ones).
HELPDESK_PROTECTED_GROUPS = [dn.strip() for dn in env.str("HELPDESK_PROTECTED_GROUPS", default="").split(";")
                             if dn.strip()]
HELPDESK_CONTENT_BLIND = env.bool("HELPDESK_CONTENT_BLIND", default=False)
HELPDESK_ACT_FOR_SECONDS = env.int("HELPDESK_ACT_FOR_SECONDS", default=3600)
AUDIT_SYSLOG = env.str("AUDIT_SYSLOG", default="")  # udp://host:514 or tcp://host:601 (RFC 5424)
# The chain head (count, last id, last hash) written outside the database every N records and on
# verify_audit: to AUDIT_SYSLOG, the log, and AUDIT_ANCHOR_FILE (appended to) when set.
AUDIT_ANCHOR_EVERY = env.int("AUDIT_ANCHOR_EVERY", default=100)
if AUDIT_ANCHOR_EVERY < 0:
    raise ImproperlyConfigured("AUDIT_ANCHOR_EVERY must be 0 (only on verify_audit) or a number of records.")
AUDIT_ANCHOR_FILE = env.str("AUDIT_ANCHOR_FILE", default="")

# File servers (SMB2/3) as the portal's service account.
SMB_USERNAME = env.str("SMB_USERNAME", default="")
SMB_PASSWORD = env_secret("SMB_PASSWORD", default="")
SMB_DOMAIN = env.str("SMB_DOMAIN", default="")
# SMB_AUTH: whose session reads and writes. service-account (every request as SMB_USERNAME, the portal's
# access check decides) | kerberos-delegation (each request as the person, by Kerberos constrained
# delegation from the service account's keytab SMB_KEYTAB: the file server decides every open).
# SMB_AUTH_PROTOCOL: how the service account signs in: negotiate | kerberos | ntlm (kerberos works
# where NTLM is disabled). The values negotiate | ntlm | kerberos in SMB_AUTH still mean
# service-account with that protocol.
_smb_auth = env.str("SMB_AUTH", default="service-account")
SMB_AUTH = "service-account" if _smb_auth in ("negotiate", "ntlm", "kerberos") else _smb_auth
SMB_AUTH_PROTOCOL = env.str("SMB_AUTH_PROTOCOL", default=_smb_auth if SMB_AUTH != _smb_auth else "negotiate")
if SMB_AUTH not in ("service-account", "kerberos-delegation"):
    raise ImproperlyConfigured(f"SMB_AUTH must be service-account or kerberos-delegation, not {SMB_AUTH!r}.")
if SMB_AUTH_PROTOCOL not in ("negotiate", "kerberos", "ntlm"):
    raise ImproperlyConfigured(f"SMB_AUTH_PROTOCOL must be negotiate, kerberos or ntlm, not {SMB_AUTH_PROTOCOL!r}.")
SMB_KEYTAB = env.str("SMB_KEYTAB", default="")  # the service account's keytab (Kerberos)
SMB_REALM = env.str("SMB_REALM", default="")  # Kerberos realm; default: LDAP_UPN_SUFFIX in capitals
if SMB_AUTH == "kerberos-delegation" and not SMB_KEYTAB:
    raise ImproperlyConfigured("SMB_AUTH=kerberos-delegation needs SMB_KEYTAB, the service account's keytab.")
# address=DNS name pairs (;-separated): the name in a file server's SPN (cifs/<name>) when roots name
# it by address or a short name, e.g. 10.0.0.5=fs01.corp.example.com
SMB_KERBEROS_HOSTNAMES = {
    pair.split("=", 1)[0].strip().lower(): pair.split("=", 1)[1].strip()
    for pair in env.str("SMB_KERBEROS_HOSTNAMES", default="").split(";") if "=" in pair
}
# A person the domain does not delegate (sensitive account, Protected Users): refuse (the default:
# they are told why) | service-account (the service account reads for them, the portal's check decides,
# audited as such).
SMB_DELEGATION_FALLBACK = env.str("SMB_DELEGATION_FALLBACK", default="refuse")
if SMB_DELEGATION_FALLBACK not in ("refuse", "service-account"):
    raise ImproperlyConfigured("SMB_DELEGATION_FALLBACK must be refuse or service-account.")
SMB_PERSON_SESSION_IDLE = env.int("SMB_PERSON_SESSION_IDLE", default=120)  # seconds; a person's session then logs off
SMB_REQUIRE_SIGNING = env.bool("SMB_REQUIRE_SIGNING", default=True)
SMB_ENCRYPT = env.bool("SMB_ENCRYPT", default=False)
SMB_TIMEOUT = env.int("SMB_TIMEOUT", default=30)
SMB_PORT = env.int("SMB_PORT", default=445)  # every file server's port (e.g. through a proxy or a tunnel)
# Read listings, metadata and permissions with FILE_OPEN_FOR_BACKUP_INTENT (needs SeBackupPrivilege on the server).
SMB_BACKUP_INTENT = env.bool("SMB_BACKUP_INTENT", default=True)
# The data path (restore/smb/handles.py, servercopy.py): bytes per READ/WRITE (capped by the server's
# MaxReadSize/MaxWriteSize and the credits it grants), requests in flight per file, copychunk requests in flight.
SMB_IO_SIZE = env.int("SMB_IO_SIZE", default=8 * 1024 * 1024)
SMB_IO_DEPTH = env.int("SMB_IO_DEPTH", default=3)
SMB_COPY_DEPTH = env.int("SMB_COPY_DEPTH", default=4)
SNAPSHOT_CACHE_SECONDS = env.int("SNAPSHOT_CACHE_SECONDS", default=60)
DIFF_MAX_BYTES = env.int("DIFF_MAX_BYTES", default=2 * 1024 * 1024)  # larger files are not compared
DIFF_MAX_LINES = env.int("DIFF_MAX_LINES", default=5000)  # lines of a diff shown
CONTAINER_CACHE_SIZE = env.int("CONTAINER_CACHE_SIZE", default=16)  # profile containers kept open per process

# Each user's roots: kind=UNC template pairs, separated by ';'. Placeholders:
# %USERNAME% (sAMAccountName), %USERDOMAIN% (NetBIOS domain), %SID% (the person's SID). Kinds
# profile-container / office-container name FSLogix containers (docs/containers.md). AD attributes
# profilePath / homeDirectory are used too when ROOTS_FROM_AD is on.
USER_ROOTS = env.str("USER_ROOTS", default="")
ROOTS_FROM_AD = env.bool("ROOTS_FROM_AD", default=True)
ALLOWED_FILE_SERVERS = env.list("ALLOWED_FILE_SERVERS", default=[])  # empty: servers of USER_ROOTS
# Related files (restore/related/rules.py): an administrator's TOML rule file, on top of the built-ins.
RELATED_RULES_FILE = env.str("RELATED_RULES_FILE", default="")

# Sign-in lockout (django-axes): per user and per IP.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "restore.web.pages.locked_out"
AXES_IPWARE_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]

# API
API_BASIC_AUTH = env.bool("API_BASIC_AUTH", default=True)
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="600/min")  # per person, e.g. 600/min
RESTORE_START_RATE = env.str("RESTORE_START_RATE", default="30/min")  # restores started per person (POST /api/v1/restores)
REST_FRAMEWORK = {
    # Basic first, so that a refused API call answers 401 with WWW-Authenticate (DRF takes the
    # challenge from the first class); with API_BASIC_AUTH off it steps aside and 403 remains.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "restore.api.authentication.ADBasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "restore.api.schema.AutoSchema",  # documents each operation's error answers
    "DEFAULT_THROTTLE_CLASSES": ["restore.api.throttling.ApiRateThrottle"],
    "EXCEPTION_HANDLER": "restore.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "vdiprotect API",
    "DESCRIPTION": "Self-service restore from SMB Previous Versions.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "REDOC_DIST": "SIDECAR",
    # "kind" is a file/folder choice in listings and search, and file/folder/stream in related bundles
    "ENUM_NAME_OVERRIDES": {"EntryKindEnum": ["file", "folder"], "RelatedKindEnum": ["file", "folder", "stream"]},
}

# Email (job notifications), e.g. smtp+tls://user:pass@mail.example:587
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="vdiprotect <noreply@localhost>")

# Security: secure by default; DEBUG relaxes what a laptop over http needs.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
# Opting out of the preload list is a deliberate choice, not an oversight: silence its warning then.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD or DEBUG else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Pages load scripts and styles from the portal only; a response that sets its own policy (file
# previews: sandboxed) keeps it. Redoc (/api/docs/) builds its search worker from a blob.
CONTENT_SECURITY_POLICY = env.str("CONTENT_SECURITY_POLICY", default=(
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "worker-src 'self' blob:; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"))
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")  # when the browser asks for none we have; webhooks
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español"), ("nl", "Nederlands")]
LOCALE_PATHS = [BASE_DIR / "locale"]  # .po in git; the .mo are built by scripts/setup (compilemessages)
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600  # the switcher's choice is remembered a year on that browser
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env.bool("STATIC_MANIFEST", default=True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django_auth_ldap": {"level": env.str("LDAP_LOG_LEVEL", default="WARNING")}},
}
