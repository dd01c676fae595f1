#!/bin/sh
# How the inference image starts node: its Dockerfile sets AWS_LAMBDA_EXEC_WRAPPER to this file, so
# Lambda's bootstrap runs it with the command line it would have run (node, node's options, the
# runtime's script), and this runs that same command line without `--expose-gc`.
#
# Why: node compiles its own modules (http, tls, crypto, stream...) from a V8 code cache built into
# it, and V8 refuses a cache made under other V8 flags. Since node 24, V8 leaves the heap sizes out
# of that check, so the bootstrap's --max-semi-space-size and --max-old-space-size keep the cache;
# --expose-gc still loses it. Loading those modules took 22-23 ms with it and 8-12 ms without, on
# every cold start. Nothing in the image calls gc(), and the runtime's client for other base images
# starts node without it. Lambda's command line has no argument after the runtime's script, so the
# flag is dropped wherever it stands.
# https://docs.aws.amazon.com/lambda/latest/dg/runtimes-modify.html#runtime-wrapper
#
# It also runs node on mimalloc when the image has it beside this script (the Dockerfile puts it
# there). onnxruntime builds a session out of many small allocations (a tree ensemble's nodes, its
# kernels' registries), where glibc's malloc is slow: the flights model's session took 52-58 ms on
# mimalloc against 57-62 on glibc, in alternating cold starts; the handler's batch was no slower.
allocator="${0%/*}/libmimalloc.so.2"
if [ -f "$allocator" ]; then
  export LD_PRELOAD="$allocator${LD_PRELOAD:+:$LD_PRELOAD}"
fi
#
# And it starts V8's young generation at 16 MB (V8 keeps it within the bootstrap's maximum, and node
# 24 leaves it out of the cache's check too): from its default of 1 MB, a cold start's first 25 MB
# took four scavenges, ~5 ms. Module load: 34-41 ms against 38-43 in alternating cold starts.
node=1
for arg do
  shift
  case "$arg" in
    --expose-gc | --expose_gc) ;;
    *) set -- "$@" "$arg" ;;
  esac
  if [ "$node" ]; then
    set -- "$@" --min-semi-space-size=16
    node=
  fi
done
exec "$@"
