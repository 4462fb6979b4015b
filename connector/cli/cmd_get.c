/*
 * connector/cli/cmd_get.c: `tessera get PROVIDER_URL OFFER_ID -o PATH`:
 * negotiate a contract for a provider's offer, transfer the data into the
 * vault with one checked copy to PATH (what `transfer --out` does), and
 * verify PATH against the digest the transfer was checked with: the three
 * steps a script would otherwise chain, with one exit status.
 */
#include "lib/tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "connector/cli/api.h"
#include "connector/cli/cli.h"
#include "lib/crypto.h"
#include "lib/mem.h"
#include "lib/time.h"

#define NEG_TIMEOUT_S 60
#define DEFAULT_TIMEOUT_S 3600
#define MAX_TIMEOUT_S (30LL * 24 * 3600)
#define READ_BUF ((size_t)256 << 10)

/* What the transfer wait shows on a terminal. */
struct progress {
    bool shown;
    int64_t t0_ms;
};

static int64_t member_int(const json_t *o, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* "transfer STARTED: 1.2 MiB of 4.6 MiB (26%), 310 MiB/s, 0:02 left", one line rewritten. */
static void show_progress(const json_t *tp, void *arg)
{
    struct progress *p = arg;
    int64_t b = member_int(tp, "bytes", 0), total = member_int(tp, "total_bytes", 0);
    int64_t el = tsr_time_mono_ms() - p->t0_ms;
    /* The connector's rate over the last second while data moves, else the average. */
    int64_t rate = member_int(tp, "rate_bps", el > 0 ? b * 1000 / el : 0);
    char size[32], of[32], bps[32], eta[48] = "";

    tsr_cli_fmt_size(b, size, sizeof(size));
    tsr_cli_fmt_size(total, of, sizeof(of));
    tsr_cli_fmt_size(rate, bps, sizeof(bps));
    if (total > 0 && rate > 0 && b <= total) {
        int64_t left = (total - b + rate - 1) / rate;
        snprintf(eta, sizeof(eta), ", %lld:%02lld left", (long long)(left / 60),
                 (long long)(left % 60));
    }
    if (total > 0)
        fprintf(stderr, "\r\033[Ktransfer %s: %s of %s (%d%%), %s/s%s", tsr_cli_jstr(tp, "state"),
                size, of, (int)(b * 100 / total), bps, eta);
    else
        fprintf(stderr, "\r\033[Ktransfer %s: %s, %s/s", tsr_cli_jstr(tp, "state"), size, bps);
    (void)fflush(stderr);
    p->shown = true;
}

/* The SHA-256 of path's bytes as lower-case hex, and their number.  0, TSR_EIO, TSR_ENOMEM. */
static int file_sha256(const char *path, char hex[2 * TSR_SHA256_LEN + 1], int64_t *size)
{
    unsigned char md[TSR_SHA256_LEN];
    struct tsr_sha256 s;
    unsigned char *buf = NULL;
    int fd = -1, rc;

    *size = 0;
    rc = tsr_sha256_init(&s);
    if (rc != 0)
        return rc;
    buf = tsr_malloc(READ_BUF);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (buf == NULL || fd < 0) {
        rc = buf == NULL ? TSR_ENOMEM : TSR_EIO;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, READ_BUF);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = TSR_EIO;
            goto out;
        }
        if (n == 0)
            break;
        rc = tsr_sha256_update(&s, buf, (size_t)n);
        if (rc != 0)
            goto out;
        *size += n;
    }
    rc = tsr_sha256_final(&s, md);
    if (rc == 0)
        tsr_hex_encode(md, sizeof(md), hex);
out:
    if (fd >= 0)
        close(fd);
    tsr_free(buf);
    tsr_sha256_cleanup(&s);
    return rc;
}

/* Transfer under agreement with a copy to abs; *tp_out (new) the completed transfer. */
static int transfer(struct tsr_cli *cli, const char *agreement, const char *abs,
                    long long timeout, json_t **tp_out)
{
    static const char *const final[] = {"COMPLETED", "TERMINATED", NULL};
    struct progress prog = {false, tsr_time_mono_ms()};
    bool tty = !cli->json && isatty(STDERR_FILENO);
    json_t *body, *tp = NULL;
    int rc;

    *tp_out = NULL;
    body = json_pack("{s:s, s:s}", "agreement_id", agreement, "out", abs);
    if (body == NULL)
        return tsr_cli_fail(cli, "the path must be UTF-8 text");
    rc = tsr_cli_api_start(cli, "/transfers", body, final, timeout, tty ? show_progress : NULL,
                           &prog, &tp);
    json_decref(body);
    if (prog.shown)
        fputc('\n', stderr);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    if (strcmp(tsr_cli_jstr(tp, "state"), "TERMINATED") == 0)
        rc = tsr_cli_fail(cli, "transfer %s terminated: %s", tsr_cli_jstr(tp, "id"),
                          tsr_cli_jstr(tp, "error"));
    else if (json_is_string(json_object_get(tp, "error")))
        rc = tsr_cli_fail(cli, "transfer %s completed into the vault, but %s; the data stays "
                               "there ('tessera vault ls')",
                          tsr_cli_jstr(tp, "id"), tsr_cli_jstr(tp, "error"));
    if (rc != TSR_CLI_EXIT_OK) {
        json_decref(tp);
        return rc;
    }
    *tp_out = tp;
    return TSR_CLI_EXIT_OK;
}

static int get_exec(int argc, char **argv, struct tsr_cli *cli)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"timeout", required_argument, NULL, 't'},
        TSR_CLI_OPT_HELP,
        {NULL, 0, NULL, 0},
    };
    long long timeout = DEFAULT_TIMEOUT_S;
    const char *out_path = NULL, *url, *offer, *want;
    char *abs = NULL, hex[2 * TSR_SHA256_LEN + 1];
    json_t *neg = NULL, *tp = NULL;
    int64_t size = 0;
    int c, rc;

    while ((c = tsr_cli_getopt(cli, argc, argv, "o:t:h", opts)) != -1) {
        switch (c) {
        case 'o': out_path = optarg; break;
        case 't':
            if (!tsr_cli_int_arg(cli, "--timeout", optarg, 1, MAX_TIMEOUT_S, &timeout))
                return TSR_CLI_EXIT_USAGE;
            break;
        default: return tsr_cli_opt_other(cli, c);
        }
    }
    if (argc - optind != 2)
        return tsr_cli_usage(cli, "expected PROVIDER_URL and OFFER_ID");
    if (out_path == NULL || out_path[0] == '\0')
        return tsr_cli_usage(cli, "-o PATH is required: where to write the data");
    url = argv[optind];
    offer = argv[optind + 1];
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return tsr_cli_usage(cli, "%s: not an http:// or https:// URL", url);
    if (access(out_path, F_OK) == 0)
        return tsr_cli_fail(cli, "%s exists: remove it or choose another path", out_path);
    rc = tsr_cli_abs_path(cli, out_path, &abs);
    if (rc != TSR_CLI_EXIT_OK)
        return rc;
    rc = tsr_cli_negotiate(cli, url, offer, true, NEG_TIMEOUT_S, &neg);
    if (rc != TSR_CLI_EXIT_OK)
        goto out;
    if (!cli->json)
        fprintf(stderr, "negotiation %s: agreement %s\n", tsr_cli_jstr(neg, "id"),
                tsr_cli_jstr(neg, "agreement_id"));
    rc = transfer(cli, tsr_cli_jstr(neg, "agreement_id"), abs, timeout, &tp);
    if (rc != TSR_CLI_EXIT_OK)
        goto out;
    /* The connector checked the digest on the way in; check what landed at PATH too. */
    want = tsr_cli_jstr(tp, "sha256");
    if (file_sha256(abs, hex, &size) != 0) {
        rc = tsr_cli_fail(cli, "cannot read %s back to verify it: %s", abs, strerror(errno));
        goto out;
    }
    if (strcasecmp(want, hex) != 0) {
        /* Not the data agreed: never leave it where it could pass for it. */
        unlink(abs);
        rc = tsr_cli_fail(cli, "%s did not match the transfer's digest (sha-256 %s, want %s) "
                               "and was removed; the data is in the vault ('tessera vault ls')",
                          abs, hex, want);
        goto out;
    }
    if (cli->json) {
        rc = tsr_cli_json_out(
            cli, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:b}", "provider_url", url,
                           "offer_id", offer, "negotiation_id", tsr_cli_jstr(neg, "id"),
                           "agreement_id", tsr_cli_jstr(neg, "agreement_id"), "transfer_id",
                           tsr_cli_jstr(tp, "id"), "path", abs, "bytes", (json_int_t)size,
                           "sha256", hex, "verified", 1));
        goto out;
    }
    char sz[32];
    tsr_cli_fmt_size(size, sz, sizeof(sz));
    printf("%s: %s, sha-256 %s verified (transfer %s)\n", abs, sz, hex, tsr_cli_jstr(tp, "id"));
out:
    tsr_free(abs);
    json_decref(neg);
    json_decref(tp);
    return rc;
}

const struct tsr_cmd_entry tsr_cmd_get_entry = {
    .name = "get",
    .alias = NULL,
    .usage = "PROVIDER_URL OFFER_ID -o PATH [--timeout SECS]",
    .help = "Negotiate, transfer and verify in one step.\n"
            "Negotiates a contract for the offer, transfers the data into the vault,\n"
            "writes one copy to PATH through a checked use (as 'transfer --out') and\n"
            "checks PATH's SHA-256 against the digest the transfer was verified with.\n"
            "  -o, --output PATH     where to write the data (must not exist yet)\n"
            "  -t, --timeout SECS    how long the transfer may take (default 3600)\n"
            "A progress line on a terminal.  Exit status 1 if the negotiation or the\n"
            "transfer is refused, 3 if the connector or the provider cannot be reached.\n"
            "With --json: {\"negotiation_id\", \"agreement_id\", \"transfer_id\", \"path\",\n"
            "\"bytes\", \"sha256\", \"verified\", ...}.",
    .exec = get_exec,
};
