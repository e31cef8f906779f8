"""``python -m raftkube.cli ...``: the ``raftkube`` command (what tests, benches and ``raftkube up`` run)."""

from raftkube.cli import main

if __name__ == "__main__":
    main()
