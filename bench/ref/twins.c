/*
 * twinsc: C twins of bench/twins (the Rust module), for bench/twins.sh.
 *
 * Best-practice C with no AutoMemory. Each command makes the module API calls its Rust twin
 * makes, in the same order, except where noted: there the Rust SDK makes extra calls (its
 * checks), and the difference is part of what the benchmark measures.
 *
 * Build: gcc -O2 -fPIC -shared -pthread -I vendor -o target/bench/twins_c.so bench/ref/twins.c
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "redismodule.h"

/* TWIN.MGET3 k1 k2 k3 */
static int Mget3(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 4) return RedisModule_WrongArity(ctx);
    RedisModule_ReplyWithArray(ctx, 3);
    for (int i = 1; i < 4; i++) {
        RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[i], REDISMODULE_READ);
        int type = RedisModule_KeyType(key);
        if (type == REDISMODULE_KEYTYPE_EMPTY) {
            RedisModule_ReplyWithNull(ctx);
        } else if (type != REDISMODULE_KEYTYPE_STRING) {
            RedisModule_CloseKey(key);
            return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
        } else {
            size_t len;
            char *data = RedisModule_StringDMA(key, &len, REDISMODULE_READ);
            RedisModule_ReplyWithStringBuffer(ctx, data, len);
        }
        RedisModule_CloseKey(key);
    }
    return REDISMODULE_OK;
}

/* TWIN.RANGE100 */
static int Range100(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    REDISMODULE_NOT_USED(argv);
    REDISMODULE_NOT_USED(argc);
    RedisModule_ReplyWithArray(ctx, 100);
    for (int i = 0; i < 100; i++) RedisModule_ReplyWithStringBuffer(ctx, "element", 7);
    return REDISMODULE_OK;
}

/* TWIN.INCR key */
static int Incr(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2) return RedisModule_WrongArity(ctx);
    RedisModuleCallReply *reply = RedisModule_Call(ctx, "INCR", "v", &argv[1], (size_t)1);
    if (reply == NULL) return RedisModule_ReplyWithError(ctx, "ERR INCR could not run");
    if (RedisModule_CallReplyType(reply) != REDISMODULE_REPLY_INTEGER) {
        RedisModule_ReplyWithCallReply(ctx, reply);
        RedisModule_FreeCallReply(reply);
        return REDISMODULE_OK;
    }
    RedisModule_ReplyWithLongLong(ctx, RedisModule_CallReplyInteger(reply));
    RedisModule_FreeCallReply(reply);
    return REDISMODULE_OK;
}

/* twin-type: one integer. */
static RedisModuleType *TwinType;

static void *TwinRdbLoad(RedisModuleIO *io, int encver) {
    REDISMODULE_NOT_USED(encver);
    long long *v = RedisModule_Alloc(sizeof *v);
    *v = RedisModule_LoadSigned(io);
    return v;
}
static void TwinRdbSave(RedisModuleIO *io, void *value) {
    RedisModule_SaveSigned(io, *(long long *)value);
}
static void TwinFree(void *value) { RedisModule_Free(value); }

/* TWIN.TYPESET key n (setup only) */
static int TypeSet(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 3) return RedisModule_WrongArity(ctx);
    long long n;
    if (RedisModule_StringToLongLong(argv[2], &n) != REDISMODULE_OK)
        return RedisModule_ReplyWithError(ctx, "ERR value is not an integer or out of range");
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ | REDISMODULE_WRITE);
    long long *v = RedisModule_Alloc(sizeof *v);
    *v = n;
    RedisModule_ModuleTypeSetValue(key, TwinType, v);
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* TWIN.TYPEGET key */
static int TypeGet(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2) return RedisModule_WrongArity(ctx);
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ);
    if (key == NULL) {
        RedisModule_ReplyWithNull(ctx);
        return REDISMODULE_OK;
    }
    if (RedisModule_ModuleTypeGetType(key) != TwinType) {
        int type = RedisModule_KeyType(key);
        RedisModule_CloseKey(key);
        if (type == REDISMODULE_KEYTYPE_EMPTY) return RedisModule_ReplyWithNull(ctx);
        return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
    }
    long long *v = RedisModule_ModuleTypeGetValue(key);
    RedisModule_ReplyWithLongLong(ctx, *v);
    RedisModule_CloseKey(key);
    return REDISMODULE_OK;
}

/* TWIN.BLOCK. (Both check the context flags; the Rust SDK also knows from its context
 * whether this is a command's and whether it blocked already, without a server call.) */
static int BlockReply(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    REDISMODULE_NOT_USED(argv);
    REDISMODULE_NOT_USED(argc);
    long long *v = RedisModule_GetBlockedClientPrivateData(ctx);
    return RedisModule_ReplyWithLongLong(ctx, *v);
}
static void BlockFree(RedisModuleCtx *ctx, void *privdata) {
    REDISMODULE_NOT_USED(ctx);
    free(privdata);
}
static void *BlockThread(void *arg) {
    long long *v = malloc(sizeof *v);
    *v = 42;
    RedisModule_UnblockClient(arg, v);
    return NULL;
}
static int Block(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    REDISMODULE_NOT_USED(argv);
    REDISMODULE_NOT_USED(argc);
    int flags = RedisModule_GetContextFlags(ctx);
    if (flags & (REDISMODULE_CTX_FLAGS_MULTI | REDISMODULE_CTX_FLAGS_LUA |
                 REDISMODULE_CTX_FLAGS_DENY_BLOCKING))
        return RedisModule_ReplyWithError(ctx, "ERR this client cannot be blocked here");
    RedisModuleBlockedClient *bc = RedisModule_BlockClient(ctx, BlockReply, NULL, BlockFree, 0);
    pthread_t tid;
    if (pthread_create(&tid, NULL, BlockThread, bc) != 0) {
        RedisModule_AbortBlock(bc);
        return RedisModule_ReplyWithError(ctx, "ERR could not start a thread");
    }
    pthread_detach(tid);
    return REDISMODULE_OK;
}

int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    REDISMODULE_NOT_USED(argv);
    REDISMODULE_NOT_USED(argc);
    if (RedisModule_Init(ctx, "twinsc", 1, REDISMODULE_APIVER_1) == REDISMODULE_ERR)
        return REDISMODULE_ERR;
    RedisModuleTypeMethods tm = {
        .version = REDISMODULE_TYPE_METHOD_VERSION,
        .rdb_load = TwinRdbLoad,
        .rdb_save = TwinRdbSave,
        .free = TwinFree,
    };
    TwinType = RedisModule_CreateDataType(ctx, "twin-type", 1, &tm);
    if (TwinType == NULL) return REDISMODULE_ERR;
    struct { const char *name; RedisModuleCmdFunc f; const char *flags; int k1, k2; } cmds[] = {
        {"twin.mget3", Mget3, "readonly fast", 1, 3},
        {"twin.range100", Range100, "readonly fast", 0, 0},
        {"twin.incr", Incr, "write deny-oom fast", 1, 1},
        {"twin.typeset", TypeSet, "write deny-oom fast", 1, 1},
        {"twin.typeget", TypeGet, "readonly fast", 1, 1},
        {"twin.block", Block, "readonly", 0, 0},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (RedisModule_CreateCommand(ctx, cmds[i].name, cmds[i].f, cmds[i].flags, cmds[i].k1,
                                      cmds[i].k2, cmds[i].k1 ? 1 : 0) == REDISMODULE_ERR)
            return REDISMODULE_ERR;
    return REDISMODULE_OK;
}
