"""``python -m vae_lib``: see :mod:`vae_lib.cli`."""

from vae_lib.cli import main

raise SystemExit(main())
