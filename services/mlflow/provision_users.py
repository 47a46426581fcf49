"""Creates the platform's MLflow client users, or sets their passwords, in the basic-auth store.

Runs as the tracking server's init container (components/mlflow.py), before `mlflow server
--app-name basic-auth`, against the same auth database (MLFLOW_AUTH_CONFIG_PATH). Each file of
--clients-dir is one user: the file name is the user name, its content the password (the
`mlflow-clients` Secret mounted as files). Idempotent: an existing user gets the file's password,
so rotating a Secret and restarting the server rotates the user. New users are plain users: the
auth config's default_permission applies, admin rights are never granted here.

Exit 0 when every user is in place, 2 with one line naming the file on bad input."""
import argparse
import sys
from pathlib import Path

MIN_PASSWORD_LENGTH = 12  # MLflow refuses shorter passwords (mlflow.utils.validation)


def read_clients(directory: Path) -> dict[str, str]:
    """{username: password} from the files of `directory` (Kubernetes' `..data` links and
    hidden entries skipped). Raises ValueError naming the file for an unusable entry."""
    if not directory.is_dir():
        raise ValueError(f"{directory}: not a directory (expected one file per MLflow user)")
    users: dict[str, str] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith("."):
            continue
        password = path.read_text().strip()
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"{path}: password has {len(password)} characters; MLflow needs at least {MIN_PASSWORD_LENGTH}")
        users[path.name] = password
    if not users:
        raise ValueError(f"{directory}: no user files")
    return users


def provision(store, users: dict[str, str]) -> dict[str, str]:
    """Creates each user or updates its password in `store` (MLflow's auth SqlAlchemyStore);
    returns {username: "created" | "updated"}."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

    done: dict[str, str] = {}
    for username, password in sorted(users.items()):
        try:
            store.create_user(username, password)
            done[username] = "created"
        except MlflowException as e:
            # Another replica's init container may create the same user first.
            if e.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
            store.update_user(username, password=password)
            done[username] = "updated"
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        users = read_clients(args.clients_dir)
    except ValueError as e:
        print(f"provision_users: {e}", file=sys.stderr)
        return 2
    # MLflow is imported after the input is checked: bad input answers in one line, fast.
    from mlflow.server.auth.config import read_auth_config
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore()
    store.init_db(read_auth_config().database_uri)
    for username, what in provision(store, users).items():
        print(f"provision_users: {username} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
