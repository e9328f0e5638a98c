/*
 * hashexc: reference C module for the HGETSET benchmark (bench/hgetset.sh).
 *
 * HGETSET key field value: set a hash field and return its old value (or nil),
 * atomically. Best-practice C with no AutoMemory; the Rust module
 * (modules/hashex) makes exactly the same sequence of module API calls, so
 * the difference in instructions per call is the cost of the Rust SDK.
 *
 * Build: gcc -O2 -fPIC -shared -I vendor -o target/bench/hgetset_c.so bench/ref/hgetset.c
 */
#include "redismodule.h"

static int HGetSet(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 4) return RedisModule_WrongArity(ctx);

    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ | REDISMODULE_WRITE);
    int type = RedisModule_KeyType(key);
    if (type != REDISMODULE_KEYTYPE_EMPTY && type != REDISMODULE_KEYTYPE_HASH) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
    }

    RedisModuleString *old = NULL;
    RedisModule_HashGet(key, REDISMODULE_HASH_NONE, argv[2], &old, NULL);
    RedisModule_HashSet(key, REDISMODULE_HASH_NONE, argv[2], argv[3], NULL);
    if (old) {
        RedisModule_ReplyWithString(ctx, old);
        RedisModule_FreeString(ctx, old);
    } else {
        RedisModule_ReplyWithNull(ctx);
    }
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    return REDISMODULE_OK;
}

int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    REDISMODULE_NOT_USED(argv);
    REDISMODULE_NOT_USED(argc);
    if (RedisModule_Init(ctx, "hashexc", 1, REDISMODULE_APIVER_1) == REDISMODULE_ERR)
        return REDISMODULE_ERR;
    if (RedisModule_CreateCommand(ctx, "hgetset", HGetSet, "write fast deny-oom", 1, 1, 1) ==
        REDISMODULE_ERR)
        return REDISMODULE_ERR;
    return REDISMODULE_OK;
}
