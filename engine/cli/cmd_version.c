/* pgshift version: the program's version and the libraries it runs with. */
#include <stdio.h>

#include <curl/curl.h>
#include <libpq-fe.h>
#include <lua.h>
#include <openssl/crypto.h>
#include <yaml.h>

#include "cli/cli.h"
#include "version.h"

int
cmd_version(const struct cli_args *args)
{
	int pq = PQlibVersion();

	(void) args;
	printf("pgshift %s\n", PGSHIFT_VERSION);
	printf("libpq %d.%d, libyaml %s, %s, libcurl %s, %s\n", pq / 10000, pq % 10000,
		   yaml_get_version_string(), LUA_RELEASE, curl_version_info(CURLVERSION_NOW)->version,
		   OpenSSL_version(OPENSSL_VERSION));
	return EXIT_OK;
}
