# The client subcommands (`leadpoet ingest`, `leadpoet query`) and their HTTP client. Included from
# core/cli/CMakeLists.txt.
target_sources(lp_core PRIVATE cmd_ingest.c cmd_query.c http_client.c)
