"""Serve moto's own AWS application one request at a time.

moto_server answers on threads and takes no lock around a DynamoDB
conditional write: put_item reads the item, evaluates the condition and
stores the new item with nothing held, so two writes conditioned on the same
state can both succeed. DynamoDB applies conditional writes to one item one
at a time, and the repository's exactly-once tests depend on that guarantee.

This launcher runs the same WSGI application moto_server runs, on the same
werkzeug server, and holds one lock around each request from its first byte
to its last. Connections are still accepted on threads (keep-alive clients
do not starve each other); only the application's work is serialised.

Usage: python3 motoserial.py HOST PORT
"""

import signal
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def serialised(app):
    lock = threading.Lock()

    def serve(environ, start_response):
        with lock:
            body = app(environ, start_response)
            try:
                # The body is read inside the lock: a lazily produced body is
                # still the application's work.
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()

    return serve


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: motoserial.py HOST PORT")
    host, port = argv[1], int(argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, serialised(app), threaded=True)


if __name__ == "__main__":
    main(sys.argv)
