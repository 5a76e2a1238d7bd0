-- The replication user needs these privileges on the source (the image creates the user itself).
GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'repl'@'%';
