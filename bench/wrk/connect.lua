-- connect: GET on a new connection for every request ("Connection: close": the server answers
-- and closes, wrk connects again), so that what a server pays to accept a connection is
-- measured, for clients that do not keep theirs open. No arguments.
wrk.method = "GET"
wrk.headers["Connection"] = "close"
