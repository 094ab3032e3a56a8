"""Entry point of the gitops lab image: one image, two roles, chosen by the ROLE variable.

ROLE=git-server   git_server.py: a git daemon serving the seeded platform repository (push on)
ROLE=reconciler   reconciler.py: the agent that pulls that repository and applies it
"""

import os
import sys

ROLES = ("git-server", "reconciler")


def main() -> None:
    role = os.environ.get("ROLE", "")
    if role == "git-server":
        import git_server

        git_server.main()
    elif role == "reconciler":
        import reconciler

        reconciler.main()
    else:
        sys.exit(f"ROLE must be one of {', '.join(ROLES)}, not {role!r}")


if __name__ == "__main__":
    main()
