# mk/db.mk — embeds db/schema.sql and db/migrations/*.sql into the daemon library, so microtd
# creates and migrates its database without the source tree (scripts/embed-sql.sh, needs xxd).
DB_SQL_C := $(B)/gen/db_sql.c
DB_MIGRATIONS := $(sort $(wildcard db/migrations/*.sql))

$(DB_SQL_C): db/schema.sql $(DB_MIGRATIONS) scripts/embed-sql.sh
	@mkdir -p $(dir $@)
	./scripts/embed-sql.sh db/schema.sql $(DB_MIGRATIONS) >$@.tmp && mv $@.tmp $@

$(LIB_DAEMON): $(call obj,$(DB_SQL_C))
