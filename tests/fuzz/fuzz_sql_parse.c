/* libFuzzer target: the SQL lexer and parser (catalog/sql) and redaction, on
 * arbitrary bytes as a client could send them in a Query message. */
#include <stdint.h>
#include <stdlib.h>

#include "ast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cat_stmt *stmts;
	size_t count;
	struct err e;

	if (cat_parse((const char *)data, size, &stmts, &count, &e) == 0)
		cat_stmts_free(stmts, count);
	free(cat_redact((const char *)data, size));
	return 0;
}
