/*
 * connector/cli/cmd_asset.c: `tessera asset add|ls|show|rm`: the data the
 * connector can offer, a local file (hashed by the daemon when added) or
 * an upstream URL.
 */
#include "lib/tsr.h"

#include <stdio.h>
#include <string.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "lib/mem.h"

/* The most --keyword options (the daemon's limit). */
#define KEYWORDS_MAX 64

static int asset_add(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"url", required_argument, NULL, 'u'},
        {"title", required_argument, NULL, 't'},
        {"description", required_argument, NULL, 'd'},
        {"keyword", required_argument, NULL, 'k'},
        {"media-type", required_argument, NULL, 'm'},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *url = NULL, *title = NULL, *desc = NULL, *media = NULL;
    json_t *body = NULL, *kw = json_array(), *ans = NULL;
    char *abs = NULL;
    int c, rc = TSR_CLI_EXIT_FAIL;

    if (kw == NULL)
        return tsr_cli_fail(cli, "out of memory");
    while ((c = tsr_cli_getopt(cli, argc, argv, "f:u:t:d:k:m:h", opts)) != -1) {
        switch (c) {
        case 'f': file = optarg; break;
        case 'u': url = optarg; break;
        case 't': title = optarg; break;
        case 'd': desc = optarg; break;
        case 'm': media = optarg; break;
        case 'k':
            if (json_array_size(kw) >= KEYWORDS_MAX) {
                rc = tsr_cli_usage(cli, "at most %d keywords", KEYWORDS_MAX);
                goto out;
            }
            if (optarg[0] == '\0' || json_array_append_new(kw, json_string(optarg)) != 0) {
                rc = tsr_cli_usage(cli, "--keyword: a non-empty UTF-8 word");
                goto out;
            }
            break;
        default:
            rc = tsr_cli_opt_other(cli, c);
            goto out;
        }
    }
    if (argc - optind != 1) {
        rc = tsr_cli_usage(cli, "expected one asset ID");
        goto out;
    }
    if ((file == NULL) == (url == NULL)) {
        rc = tsr_cli_usage(cli, "give exactly one of --file PATH and --url URL");
        goto out;
    }
    /* The daemon opens the file from its own folder: give it an absolute path. */
    if (file != NULL) {
        rc = tsr_cli_abs_path(cli, file, &abs);
        if (rc != TSR_CLI_EXIT_OK)
            goto out;
    }
    body = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?}", "id", argv[optind], "file", abs,
                     "url", url, "title", title, "description", desc, "media_type", media);
    if (body == NULL) {
        rc = tsr_cli_fail(cli, "the options must be UTF-8 text");
        goto out;
    }
    if (json_array_size(kw) > 0 && json_object_set(body, "keywords", kw) != 0) {
        rc = tsr_cli_fail(cli, "out of memory");
        goto out;
    }
    rc = tsr_cli_api_call(cli, "POST", "/assets", body, &ans);
    if (rc != TSR_CLI_EXIT_OK)
        goto out;
    if (cli->json) {
        rc = tsr_cli_json_out(cli, ans);
        ans = NULL;
        goto out;
    }
    if (json_is_string(json_object_get(ans, "sha256"))) {
        char size[32];

        tsr_cli_fmt_size(json_integer_value(json_object_get(ans, "size")), size, sizeof(size));
        printf("asset %s added: %s, %s, sha256 %s\n", tsr_cli_jstr(ans, "id"),
               tsr_cli_jstr(ans, "file"), size, tsr_cli_jstr(ans, "sha256"));
    } else {
        printf("asset %s added: %s\n", tsr_cli_jstr(ans, "id"), tsr_cli_jstr(ans, "url"));
    }
out:
    json_decref(ans);
    json_decref(body);
    json_decref(kw);
    tsr_free(abs);
    return rc;
}

static int asset_row(struct tsr_cli_table *t, const json_t *a)
{
    char size[32], created[64];
    const char *file = tsr_cli_jstr(a, "file");

    tsr_cli_fmt_size(json_is_integer(json_object_get(a, "size"))
                         ? json_integer_value(json_object_get(a, "size"))
                         : -1,
                     size, sizeof(size));
    tsr_cli_fmt_time(tsr_cli_jstr(a, "created_at"), created, sizeof(created));
    const char *row[] = {tsr_cli_jstr(a, "id"), tsr_cli_jstr(a, "title"), size, created,
                         strcmp(file, "-") != 0 ? file : tsr_cli_jstr(a, "url")};
    return tsr_cli_table_add(t, row);
}

static const char *const head[] = {"ID", "TITLE", "SIZE", "CREATED", "SOURCE"};

static const struct tsr_cli_resource assets = {
    .what = "asset",
    .collection = "/assets",
    .ncols = TSR_ARRAY_SIZE(head),
    .head = head,
    .maxw = {[1] = 40}, /* titles can be long */
    .row = asset_row,
};

static const struct tsr_cmd_entry add_entry = {
    .name = "add",
    .alias = NULL,
    .usage = "ID (--file PATH | --url URL) [--title T] [--description D] [--keyword K]... "
             "[--media-type M]",
    .help = "Add an asset: a local file or an upstream URL the connector can offer.\n"
            "ID is 1..256 characters of A-Z a-z 0-9 . _ : -. A file must exist and be a\n"
            "regular file the connector can read; its size and SHA-256 are recorded (the\n"
            "path is made absolute, since the connector runs elsewhere).\n"
            "  -f, --file PATH         the data is this file\n"
            "  -u, --url URL           the data is fetched from this http(s) URL\n"
            "  -t, --title T           a short title for catalogs\n"
            "  -d, --description D     a description\n"
            "  -k, --keyword K         a keyword (repeat for more)\n"
            "  -m, --media-type M      the media type, e.g. text/csv",
    .exec = asset_add,
};

static const struct tsr_cmd_entry ls_entry = {
    .name = "ls",
    .alias = "list",
    .usage = "",
    .help = "List the assets: id, title, size, when added, and the file or URL.\n"
            "With --json: {\"items\": [...]}, every item as 'show' prints it.",
    .exec = tsr_cli_resource_ls,
    .arg = &assets,
};

static const struct tsr_cmd_entry show_entry = {
    .name = "show",
    .alias = NULL,
    .usage = "ID",
    .help = "Show one asset with all its fields.",
    .exec = tsr_cli_resource_show,
    .arg = &assets,
};

static const struct tsr_cmd_entry rm_entry = {
    .name = "rm",
    .alias = "remove",
    .usage = "ID",
    .help = "Remove an asset. Refused while an offer uses it: remove the offer first.",
    .exec = tsr_cli_resource_rm,
    .arg = &assets,
};

static const struct tsr_cmd_entry *const subcommands[] = {&add_entry, &ls_entry, &rm_entry,
                                                          &show_entry};

static int asset_exec(int argc, char **argv, struct tsr_cli *cli)
{
    return tsr_cli_dispatch(cli, subcommands, TSR_ARRAY_SIZE(subcommands), argc - 1, argv + 1);
}

const struct tsr_cmd_entry tsr_cmd_asset_entry = {
    .name = "asset",
    .alias = NULL,
    .usage = "add|ls|show|rm ...",
    .help = "Manage the connector's assets: the data it can offer.\n"
            "  asset add ID (--file PATH | --url URL) [--title T] [--description D]\n"
            "            [--keyword K]... [--media-type M]\n"
            "  asset ls | asset show ID | asset rm ID",
    .exec = asset_exec,
};
