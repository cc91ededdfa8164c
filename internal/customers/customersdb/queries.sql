-- name: CountCustomers :one
SELECT count(*) FROM customers;
