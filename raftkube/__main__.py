"""``python -m raftkube ...``: the ``raftkube`` command, the same as the console script."""

from raftkube.cli import main

if __name__ == "__main__":
    main()
