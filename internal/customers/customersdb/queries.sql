-- Reads join data_keys twice (the personal and the retained key) so that one round trip
-- returns both the ciphertexts and the wrapped keys that open them.

-- name: InsertCustomer :exec
INSERT INTO customers (
    id, org_name,
    contact_name_ct, contact_title_ct, contact_email_ct, contact_email_hmac, contact_phone_ct,
    may_contact, personal_dek_id, address_ct, retained_dek_id, address_country,
    residency_country, marketing_consent, reseller_id, allowed_subprocessors,
    version, create_by, create_time, update_time
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20
);

-- name: GetCustomer :one
SELECT sqlc.embed(c),
       pk.master_key_id AS personal_master_key_id, pk.wrapped_key AS personal_wrapped_key,
       rk.master_key_id AS retained_master_key_id, rk.wrapped_key AS retained_wrapped_key
FROM customers c
JOIN data_keys pk ON pk.id = c.personal_dek_id
JOIN data_keys rk ON rk.id = c.retained_dek_id
WHERE c.id = $1;

-- name: GetCustomerForUpdate :one
SELECT sqlc.embed(c),
       pk.master_key_id AS personal_master_key_id, pk.wrapped_key AS personal_wrapped_key,
       rk.master_key_id AS retained_master_key_id, rk.wrapped_key AS retained_wrapped_key
FROM customers c
JOIN data_keys pk ON pk.id = c.personal_dek_id
JOIN data_keys rk ON rk.id = c.retained_dek_id
WHERE c.id = $1
FOR UPDATE OF c;

-- ListCustomers and SearchCustomers differ only in the name condition: kept apart so that the
-- planner can use customers_list for plain paging and the trigram index for a name search.

-- name: ListCustomers :many
SELECT sqlc.embed(c),
       pk.master_key_id AS personal_master_key_id, pk.wrapped_key AS personal_wrapped_key,
       rk.master_key_id AS retained_master_key_id, rk.wrapped_key AS retained_wrapped_key
FROM customers c
JOIN data_keys pk ON pk.id = c.personal_dek_id
JOIN data_keys rk ON rk.id = c.retained_dek_id
WHERE (sqlc.narg('create_by')::text IS NULL OR c.create_by = sqlc.narg('create_by'))
  AND (sqlc.narg('after_time')::timestamptz IS NULL
       OR (c.create_time, c.id) < (sqlc.narg('after_time'), sqlc.narg('after_id')::uuid))
ORDER BY c.create_time DESC, c.id DESC
LIMIT sqlc.arg('row_limit');

-- name: SearchCustomers :many
SELECT sqlc.embed(c),
       pk.master_key_id AS personal_master_key_id, pk.wrapped_key AS personal_wrapped_key,
       rk.master_key_id AS retained_master_key_id, rk.wrapped_key AS retained_wrapped_key
FROM customers c
JOIN data_keys pk ON pk.id = c.personal_dek_id
JOIN data_keys rk ON rk.id = c.retained_dek_id
WHERE lower(c.org_name) LIKE '%' || lower(sqlc.arg('needle')::text) || '%'
  AND (sqlc.narg('create_by')::text IS NULL OR c.create_by = sqlc.narg('create_by'))
  AND (sqlc.narg('after_time')::timestamptz IS NULL
       OR (c.create_time, c.id) < (sqlc.narg('after_time'), sqlc.narg('after_id')::uuid))
ORDER BY c.create_time DESC, c.id DESC
LIMIT sqlc.arg('row_limit');

-- name: UpdateCustomer :execrows
UPDATE customers SET
    org_name              = sqlc.arg('org_name'),
    contact_name_ct       = sqlc.arg('contact_name_ct'),
    contact_title_ct      = sqlc.arg('contact_title_ct'),
    contact_email_ct      = sqlc.arg('contact_email_ct'),
    contact_email_hmac    = sqlc.arg('contact_email_hmac'),
    contact_phone_ct      = sqlc.arg('contact_phone_ct'),
    may_contact           = sqlc.arg('may_contact'),
    address_ct            = sqlc.arg('address_ct'),
    address_country       = sqlc.arg('address_country'),
    residency_country     = sqlc.arg('residency_country'),
    marketing_consent     = sqlc.arg('marketing_consent'),
    reseller_id           = sqlc.arg('reseller_id'),
    allowed_subprocessors = sqlc.arg('allowed_subprocessors'),
    update_time           = sqlc.arg('update_time'),
    version               = version + 1
WHERE id = sqlc.arg('id') AND version = sqlc.arg('version');
