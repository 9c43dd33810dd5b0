"""``testrium.common.sql_pool``, compatible with Testrium 0.3.0: the small SQLite connection
pool its ``Events_Manager`` used, which user code may import too. Standard library only."""

import sqlite3
from queue import Queue
from threading import Lock


class SQLiteConnectionPool:
    """``max_connections`` connections to ``database_path``, opened at once, usable from any
    thread (``check_same_thread=False``)."""

    def __init__(self, max_connections: int, database_path: str):
        self.data_base = database_path
        self.max_connections = max_connections
        self.connections = Queue(max_connections)
        self.lock = Lock()

        for _ in range(max_connections):
            connection = sqlite3.connect(self.data_base, check_same_thread=False)
            self.connections.put(connection)

    def get_connection(self):
        """A connection from the pool; ``Exception`` when every one is taken."""
        with self.lock:
            if self.connections.empty():
                raise Exception("No available connections in the pool")
            connection = self.connections.get()
        return connection

    def release_connection(self, connection):
        """Give ``connection`` back to the pool."""
        with self.lock:
            self.connections.put(connection)

    def close_all_connections(self):
        """Close the connections that are in the pool."""
        while not self.connections.empty():
            connection = self.connections.get()
            connection.close()
