#!/bin/sh
# tests/transports/fileserve.sh: tsr_http_respond_file as curl sees it, over
# HTTP/2 and HTTP/1.1 with TLS: the whole file with its Repr-Digest, byte
# ranges (206, suffix, open-ended, clamped), an unsatisfiable range (416),
# a multi-range request served whole, HEAD, resuming a cut download, and a
# response stopped midway that the client sees as incomplete.
. "${top_srcdir:-.}/tests/lib.sh"
t_need "$CURL" openssl head cmp base64

H="$top_builddir/tests/transports/http_harness"
t_mkcert "$T_DIR" || { echo "# cannot make a certificate"; exit 1; }
# 40 MiB and a bit: more than the flow-control windows and socket buffers
# together (so a stop lands midway), and an odd tail.
head -c 41943041 /dev/urandom >"$T_DIR/data"
"$H" -c "$T_DIR/cert.pem" -k "$T_DIR/key.pem" -f "$T_DIR/data" >"$T_DIR/port" 2>"$T_DIR/log" &
T_PIDS=$!
t_wait_file "$T_DIR/port" PORT || { cat "$T_DIR/log"; exit 1; }
S="https://127.0.0.1:$(awk '{print $2}' "$T_DIR/port")"
C="$CURL -s --max-time 30 --cacert $T_DIR/cert.pem"
DIGEST="sha-256=:$(openssl dgst -sha256 -binary "$T_DIR/data" | base64):"
SIZE=$(wc -c <"$T_DIR/data")

# slice FIRST COUNT: bytes FIRST.. of the source, COUNT of them.
slice() { tail -c "+$(($1 + 1))" "$T_DIR/data" | head -c "$2"; }

for v in --http2 --http1.1; do
    $C $v -D "$T_DIR/h" -o "$T_DIR/got" "$S/file"
    t_check $(cmp -s "$T_DIR/got" "$T_DIR/data"; echo $?) "$v: the whole file arrives"
    t_eq "$(grep -i '^repr-digest:' "$T_DIR/h" | tr -d '\r' | cut -d' ' -f2)" "$DIGEST" \
        "$v: Repr-Digest is the file's sha-256"
    t_eq "$(grep -ci '^accept-ranges: bytes' "$T_DIR/h")" 1 "$v: Accept-Ranges: bytes"
    t_eq "$(grep -i '^content-type:' "$T_DIR/h" | tr -d '\r' | cut -d' ' -f2)" \
        "application/x-test" "$v: the content type given"

    code=$($C $v -H 'Range: bytes=1000-1999' -D "$T_DIR/h" -o "$T_DIR/got" -w '%{http_code}' \
        "$S/file")
    t_eq "$code" 206 "$v: a byte range gets 206"
    slice 1000 1000 >"$T_DIR/want"
    t_check $(cmp -s "$T_DIR/got" "$T_DIR/want"; echo $?) "$v: ... with exactly those bytes"
    t_eq "$(grep -i '^content-range:' "$T_DIR/h" | tr -d '\r' | cut -d' ' -f2-)" \
        "bytes 1000-1999/$SIZE" "$v: ... and their Content-Range"
    t_eq "$(grep -i '^repr-digest:' "$T_DIR/h" | tr -d '\r' | cut -d' ' -f2)" "$DIGEST" \
        "$v: ... and the whole file's Repr-Digest"

    $C $v -H 'Range: bytes=-777' -o "$T_DIR/got" "$S/file"
    slice $((SIZE - 777)) 777 >"$T_DIR/want"
    t_check $(cmp -s "$T_DIR/got" "$T_DIR/want"; echo $?) "$v: a suffix range is the file's end"
    $C $v -H "Range: bytes=$((SIZE - 10))-$((SIZE + 1000))" -o "$T_DIR/got" "$S/file"
    t_eq "$(wc -c <"$T_DIR/got")" 10 "$v: a range past the end is clamped"

    code=$($C $v -H "Range: bytes=$SIZE-" -D "$T_DIR/h" -o "$T_DIR/got" -w '%{http_code}' \
        "$S/file")
    t_eq "$code" 416 "$v: a range past the end gets 416"
    t_eq "$(grep -i '^content-range:' "$T_DIR/h" | tr -d '\r' | cut -d' ' -f2-)" \
        "bytes */$SIZE" "$v: ... with the size in Content-Range"
    t_eq "$(wc -c <"$T_DIR/got")" 0 "$v: ... and no body"

    code=$($C $v -H 'Range: bytes=0-9,20-29' -o "$T_DIR/got" -w '%{http_code}' "$S/file")
    t_eq "$code:$(wc -c <"$T_DIR/got")" "200:$SIZE" "$v: a multi-range request gets it all"

    t_eq "$($C $v -I -o /dev/null -w '%{http_code}' "$S/file")" 200 "$v: HEAD answers"

    # Resume: cut a download, then fetch the rest with a range, as the consumer does.
    $C $v --max-filesize 100000000 -r 0-1048575 -o "$T_DIR/part" "$S/file"
    $C $v -C - -o "$T_DIR/part" "$S/file"
    t_check $(cmp -s "$T_DIR/part" "$T_DIR/data"; echo $?) "$v: a resumed download is whole"
    rm -f "$T_DIR/part"

    # Stopped midway: the client must not believe it got everything.
    : >"$T_DIR/log.mark"
    $C $v --limit-rate 20M -o "$T_DIR/got" "$S/file-stop?ms=300"
    rc=$?
    t_check $([ $rc -ne 0 ] && echo 0 || echo 1) "$v: a stopped response fails at the client (curl $rc)"
    got=$(wc -c <"$T_DIR/got")
    t_check $([ "$got" -lt "$SIZE" ] && echo 0 || echo 1) "$v: ... short of the file ($got bytes)"
done

sleep 0.2
t_check $(grep -q 'file end complete=0' "$T_DIR/log"; echo $?) "the stopped response ended incomplete"
t_check $(grep -q 'file end complete=1' "$T_DIR/log"; echo $?) "the full responses ended complete"
t_check $(t_alive "$T_PIDS"; echo $?) "the server still runs"
t_done
