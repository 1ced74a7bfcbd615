"""Where the committed reference data lives and where outputs go by default."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
CODELISTS_DIR = PROJECT_DIR / "data" / "codelists"
REFERENCE_DIR = PROJECT_DIR / "data" / "reference"
DEFAULTS_TOML = PACKAGE_DIR / "defaults.toml"
DEFAULT_DB = Path("data/processed/audit.duckdb")
