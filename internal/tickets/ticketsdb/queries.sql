-- name: CountTickets :one
SELECT count(*) FROM tickets;
