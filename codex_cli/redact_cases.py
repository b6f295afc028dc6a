"""The red-team list: what redaction must catch, and near-misses it must keep.

``tests/test_redact.py`` proves every entry (in the function, and written
through every entry point: NDJSON, database, WAL, FTS index, exports, served
pages); ``docs/safety.md`` is generated from the same lists, so the doc
cannot drift from the tests. Every "secret" here is fake, made for this list.
"""

from __future__ import annotations

_PEM = (
    "Pu2njHkAm1/5wDr16EpLLJIVGHz4FxFEtKyPiYGFDm7ena8D5VfLDpgyyjVw5Han\n"
    "SBeVRsfAGeAbP0VxNjAe/9i0mYtluYI0KN1gNT11cUzYZAa3u2olZU6uqbgsYlVv\n"
)


def _pem(label: str, body: str = _PEM) -> str:
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----"


# (kind, text, the part of the text that must vanish). Redacting ``text``
# must give ``text`` with that part replaced by ``[REDACTED:<kind>]``.
_CASES: list[tuple[str, str, str]] = [
    # OpenAI
    (
        "openai",
        "OPENAI_API_KEY={}",
        "sk-proj-OpQaPRYpzbLGViYXjU2JgJngKtFI3OyV2dZAkg05rK_gqv81RKMGHZEM9YT3BlbkFJ"
        "pvujA-C5Q52ryFlwRlOEVHzc0X0AWIRh-JUqBlIFXZ53Ncqe28_ajY75Fn",
    ),
    (
        "openai",
        "client = OpenAI(api_key='{}')",
        "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",
    ),
    (
        "openai",
        "key: {}",
        "sk-svcacct-jMyXHCabM6JOF8EFd0Nhcy-1kGD2VD-eR1UYzaLiT3BlbkFJ",
    ),
    (
        "openai",
        '{{"admin_key": "{}"}}',
        "sk-admin-A-zNyD7CHLn-xC_1hsYgBds1ghxY5OokvQyx7eNWT3BlbkFJ",
    ),
    # Anthropic
    (
        "anthropic",
        "ANTHROPIC_API_KEY={}",
        "sk-ant-api03-HgxzNNAL5wIScGebcy8F5n3-YNBDRzrZSgqbjG3uhkWKFLf6xuI5aHUQPFeNBTx"
        "aQWk8JzFalHlsZfYcMMDktXP-tKsf2AA",
    ),
    (
        "anthropic",
        "export ANTHROPIC_ADMIN_KEY='{}'",
        "sk-ant-admin01-rcDkdfrUnW5gcF_Ha6ili8GjHEAD6-Wj9KfzjsQGMrb9h_ImB_LK777pzNk8cL6j5"
        "IXAAjlsHUqJoUD-_Ydua_5ZMs1SWAA",
    ),
    # AWS
    ("aws_access_key", "aws_access_key_id = {}", "AKIA2QWERTY7ZXCVBN3M"),
    ("aws_access_key", '"AccessKeyId": "{}",', "ASIAY34FZKBOKMUTVV7A"),
    (
        "aws_secret_key",
        "aws_secret_access_key = {}",
        "VQ4vnakJkS1pAWTN3lg8zV5yPU8d0FZfWe7ihGyi",
    ),
    (
        "aws_secret_key",
        "AWS_SECRET_ACCESS_KEY={}",
        "RUIQfHOJMaidDn87XG3+q+xbMtEPO6UkzYuF0ie9",
    ),
    # GitHub
    ("github", "token {}", "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"),
    (
        "github",
        "gh auth login --with-token <<< {}",
        "gho_KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR",
    ),
    ("github", "GITHUB_TOKEN: {}", "ghu_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7"),
    (
        "github",
        "installation token {} expires in 1h",
        "ghs_FAc9QeWJKY40uvSwMFLZDe1f8rESQedUStPK",
    ),
    ("github", "refresh_token={}", "ghr_R0CsTy4Qwb8DwkNhFdnXsiVpzz63FfkCzJr4"),
    (
        "github",
        "{}",
        "github_pat_i0B3JrTAwR4y9ojfljoQoa_F1LlqsajAIxNKu8iS2G8NPRVdD53X83RZJzzzzgEOzd"
        "menCkhvMdgaKjIg8",
    ),
    # GitLab
    ("gitlab", "GITLAB_TOKEN={}", "glpat-UdjAWtGSU8po_799Nksn"),
    ("gitlab", "git push with {}", "glpat-Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7Qr9.01.0w1x2y3z4"),
    # Slack
    (
        "slack",
        "SLACK_BOT_TOKEN={}",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    ),
    (
        "slack",
        "user token {}",
        "xoxp-123456789012-123456789012-123456789012-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d",
    ),
    ("slack", "{}", "xoxa-2-123456789012-123456789012-abcdef0123456789abcdef"),
    ("slack", "refresh: {}", "xoxr-123456789012-abcdefABCDEF0123456789"),
    (
        "slack_webhook",
        'curl -X POST {} -d \'{{"text":"hi"}}\'',
        "https://hooks.slack.com/services/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",
    ),
    (
        "slack_webhook",
        "{}",
        "https://hooks.slack.com/workflows/T0AB12CDE/A0FG34HIJ/123456789012345678/abCdEf",
    ),
    # Stripe
    ("stripe", "STRIPE_SECRET_KEY={}", "sk_live_HNsG9eh6Yo4gfqrc5XlrWi0B"),
    ("stripe", "stripe.api_key = '{}'", "rk_live_26R08qzjI6GKFSufrdZSlB5e"),
    ("stripe", "test mode {}", "sk_test_51HNsG9eh6Yo4gfqrc5XlrWi0B"),
    ("stripe", "STRIPE_WEBHOOK_SECRET={}", "whsec_r8bOfZqfM2oeq3hDavJA76rNicHTp8hk"),
    # Google
    (
        "google",
        "https://maps.googleapis.com/maps/api/js?key={}",
        "AIza9nhFyJfm5di4PzJ59FHz5r1pY4OjE2jBMpt",
    ),
    ("google", '"client_secret": "{}"', "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"),
    # Hugging Face, npm, PyPI
    ("huggingface", "HF_TOKEN={}", "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"),
    (
        "npm",
        "//registry.npmjs.org/:_authToken={}",
        "npm_OoNZYW2mZp0zVZomHFwUbbYrEqmSM9wCZ7Uw",
    ),
    (
        "pypi",
        "password = {}",
        "pypi-AgEIcHlwaS5vcmcUkCnD8zRA9a9SkpXz9w3QlY7Zkuvqdt7s8Stqcbnr3yBdGBLEPH1qhT61qtc"
        "4xatws8phP",
    ),
    # JWT
    (
        "jwt",
        "the session cookie is {}",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiYWRtaW4iOnRydWV9."
        "8ZniqT3Ul4ffqkOkgWrdioyq_KvCiSGuPJ6sG9AHEOV",
    ),
    (
        "jwt",
        '{{"id_token": "{}"}}',
        "eyJraWQiOiJrMSIsImFsZyI6IlJTMjU2In0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0."
        "cmlzkO7rRu5ykYYqhXHdO2x93CJHLS45",
    ),
    # Private keys
    ("private_key", "{}", _pem("RSA PRIVATE KEY")),
    ("private_key", "cat ~/.ssh/id_ed25519\n{}\n", _pem("OPENSSH PRIVATE KEY")),
    ("private_key", "{}", _pem("EC PRIVATE KEY")),
    ("private_key", "{}", _pem("DSA PRIVATE KEY")),
    ("private_key", "key.pem:\n{}", _pem("PRIVATE KEY")),
    ("private_key", "{}", _pem("ENCRYPTED PRIVATE KEY")),
    (
        "private_key",
        "{}",
        _pem(
            "RSA PRIVATE KEY",
            "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\n" + _PEM,
        ),
    ),
    (
        "private_key",
        "{}",
        _pem("PGP PRIVATE KEY BLOCK", "Version: GnuPG v2\n\n" + _PEM),
    ),
    (
        "private_key",
        '{{"private_key": "{}"}}',
        _pem("PRIVATE KEY").replace("\n", "\\n"),
    ),
    (
        "private_key",
        "the first lines: {}",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bqPu2njHkAm1/5wDr16EpLLJIVG",
    ),
    (
        "private_key",
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n{}Private-MAC: 0a1b",
        "Private-Lines: 1\nAAAAIHnWPu2njHkAm1/5wDr16EpLLJIVGHz4FxFEtKyPiYGFDm7e\n",
    ),
    (
        "private_key",
        "# created: 2025-01-01\n{}",
        "AGE-SECRET-KEY-1FKJ22YXCLVNGZ75RC92WEV7TDZE2CK8F0VZZ58CAN6N0MCHUUTPQLA0UAT",
    ),
    # Passwords in URLs
    (
        "url_password",
        "DATABASE_URL=postgres://admin:{}@db.internal:5432/app",
        "hunter2hunter2",
    ),
    ("url_password", "git clone https://user:{}@github.com/org/repo", "s3cr3t-Pa55"),
    ("url_password", "REDIS_URL=redis://:{}@cache:6379/0", "r3d1sP4ss"),
    ("url_password", "mongodb+srv://app:{}@cluster0.example.net/db", "M0ng0%40pw"),
    # Authorization headers
    ("authorization", "Authorization: Bearer {}", "3f9a7c1e5b2d4f6a8c0e2b4d6f8a0c2e"),
    ("authorization", "Authorization: Basic {}", "YWRtaW46aHVudGVyMmh1bnRlcjI="),
    (
        "authorization",
        "Authorization: token {}",
        "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b",
    ),
    (
        "authorization",
        '{{"headers": {{"Authorization": "Bearer {}"}}}}',
        "tk_9f8e7d6c5b4a39281706",
    ),
    (
        "authorization",
        "curl -H 'Authorization: Bearer {}' https://api.example.com",
        "cfcabd11c7ed9a41b1a3e063c32d5114",
    ),
    # Assignments of secret-named settings: env, JSON, YAML, TOML
    ("secret_assignment", "DB_PASSWORD={}", "correct-horse-42"),
    ("secret_assignment", "password={}", "hunter2"),
    ("secret_assignment", '{{"api_key": "{}"}}', "a1b2c3d4e5f6a7b8c9d0"),
    ("secret_assignment", 'api_key: "{}"', "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"),
    ("secret_assignment", 'password = "{}"', "tr0ub4dor&3"),
    ("secret_assignment", "export SECRET_TOKEN={}", "gqIO2zVZxqyxKjxvWfColNV9"),
    ("secret_assignment", "client_secret: {}", "6da89121079f83b2eb6accc"),
    ("secret_assignment", 'MY_SERVICE_TOKEN="{}"', "svc.9f8e7d6c5b4a"),
    ("secret_assignment", '{{"password":"{}","user":"bob"}}', "Pa$$w0rd!"),
    ("secret_assignment", "PASSWORD_PROD={}", "Winter2025!"),
    ("secret_assignment", '"apiKey": "{}"', "AbCdEf0123456789"),
    ("secret_assignment", "DB_PASS={}", "p4ssw0rd99"),
    ("secret_assignment", "Server=db;Database=app;Password={};", "Sup3rS3cret"),
    ("secret_assignment", "SECRET_KEY = '{}'", "django-insecure-0a9b8c7d6e5f"),
    ("secret_assignment", "mysql --password={} app", "r00tpw"),
    ("secret_assignment", '[database]\npassword = "{}"\n', "toml-pw-123"),
    ("key_assignment", "STRIPE_KEY={}", "pk9f8e7d6c5b4a3"),
    ("key_assignment", '"signingKey": "{}"', "0f1e2d3c4b5a69788796"),
]

CAUGHT: list[tuple[str, str, str]] = [
    (kind, text.format(secret), secret) for kind, text, secret in _CASES
]

# Left exactly as they are. Placeholders count as near-misses: `password=`
# with an empty value, a variable or a placeholder is kept.
NEAR_MISSES: list[str] = [
    "commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it",
    "session 0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b started",
    "Please enter your password to continue.",
    "the secret is to write the test first",
    "the task-list and sk-learn are not keys",
    "a desk-organiser-with-many-drawers-and-more",
    "sk-short",
    "AKIA is a prefix, AKIASHORT is not a key",
    "ghp_tooShort",
    "the bearer of bad news",
    "Bearer tokens are explained in RFC 6750",
    "https://example.com/path:with@colon",
    "mailto:someone@example.com",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop",
    "aws_secret_access_key is the name of the setting",
    "xoxb without a dash",
    "password=",
    'password: ""',
    "DB_PASSWORD=${DB_PASSWORD}",
    "api_key: <your-api-key>",
    'password = os.environ["DB_PASSWORD"]',
    "token: str",
    "max_tokens: 4096",
    "input_tokens=123456",
    'sort_key = "created_at"',
    "primary_key: true",
    "PWD=/home/dev/project",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7855b852",
    "from huggingface_hub import hf_hub_download",
    "npm_config_cache=/tmp/npm",
    "https://github.com/org/repo/pull/42#issuecomment-1",
    "eyJ is how base64 of a JSON object starts",
    "Reset your password: click the link",
]
