/* config.h — `key=value` configuration, with RocketMQ's key names.
 *
 * Two layers:
 *
 *   rk_kv_t      the parsed file: ordered key/value pairs (owns its strings).
 *                `#` starts a comment, blank lines are skipped, whitespace
 *                around keys and values is trimmed. Later keys win.
 *   rk_config_*  a schema: a table of rk_config_field_t that maps keys onto
 *                the fields of a module's own config struct, with a default,
 *                a range and a help line each. Applying a kv to a struct
 *                validates every value and names the bad key in `err`.
 *
 * One file feeds several modules (broker.conf carries store, broker and HA
 * keys), so each module applies its own table; rk_kv_t remembers which keys
 * some table used, and rk_kv_warn_unused() logs the rest (typos show up).
 *
 * Memory: string fields (RK_CFG_STR) are malloc'ed copies owned by the
 * struct; rk_config_free() releases them. No global state. */
#ifndef RK_CONFIG_H
#define RK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct rk_kv_entry {
    char *key;
    char *value;
    bool used;
} rk_kv_entry_t;

typedef struct rk_kv {
    rk_kv_entry_t *items;
    size_t len, cap;
} rk_kv_t;

void rk_kv_init(rk_kv_t *kv);
void rk_kv_free(rk_kv_t *kv);
/* Parses text; on a bad line returns RK_EBADCONFIG with "line N: ..." in err. */
int rk_kv_parse(rk_kv_t *kv, const char *text, char *err, size_t errlen);
/* Reads and parses a file; a missing file is -ENOENT with the path in err. */
int rk_kv_load_file(rk_kv_t *kv, const char *path, char *err, size_t errlen);
/* Sets (or overrides) one key, e.g. from a command-line flag. */
int rk_kv_set(rk_kv_t *kv, const char *key, const char *value);
const char *rk_kv_get(const rk_kv_t *kv, const char *key);
/* Logs a warning for each key no rk_config_apply() used; returns how many. */
int rk_kv_warn_unused(const rk_kv_t *kv, const char *module);

typedef enum {
    RK_CFG_INT,     /* int64_t; decimal, optional k/m/g suffix (x1024)   */
    RK_CFG_BOOL,    /* bool; true/false                                  */
    RK_CFG_STR,     /* char *; owned by the struct                       */
    RK_CFG_ENUM,    /* int: index into `choices`                         */
} rk_cfg_type_t;

typedef struct rk_config_field {
    const char *key;            /* RocketMQ's name, e.g. "flushDiskType" */
    rk_cfg_type_t type;
    size_t offset;              /* offsetof(struct, field) */
    const char *def;            /* default, as it would be written in the file */
    int64_t min, max;           /* RK_CFG_INT range (inclusive), required: a field
                                   with min > max is refused (RK_EINVAL) */
    const char *const *choices; /* RK_CFG_ENUM: NULL-terminated names */
    const char *help;
} rk_config_field_t;

/* Fills every field of obj with its default. Call once before apply. */
int rk_config_defaults(const rk_config_field_t *fields, void *obj);
/* Applies the keys of kv that fields know; validates each value. */
int rk_config_apply(const rk_config_field_t *fields, void *obj, rk_kv_t *kv,
                    char *err, size_t errlen);
/* Prints `key=value` for every field (what `-p` shows). */
void rk_config_print(const rk_config_field_t *fields, const void *obj, FILE *out);
/* Frees the string fields. */
void rk_config_free(const rk_config_field_t *fields, void *obj);

/* What a program's `-p` shows for one table: fields' defaults, then kv's keys applied (so
 * they count as used), printed with rk_config_print to out, freed again — a scratch struct
 * of the size the offsets need is allocated here. RK_OK, the apply error (err says which key),
 * or RK_ENOMEM. */
int rk_config_print_kv(const rk_config_field_t *fields, rk_kv_t *kv, FILE *out, char *err, size_t errlen);
/* The command line of a program configured with key=value settings (mqbroker, mqconsole):
 * `-c FILE` loads FILE into kv (*file: the last one given, or NULL), each `FLAG VALUE` of flags
 * (ending with {NULL, NULL}) sets its key, `-p` sets *print, `-h`/`--help` prints
 * usage(stdout, ctx). Returns -1 to go on, or the exit status to end with: 0 after -h, 2 after
 * an unknown argument ("prog: unknown argument ..." then usage(stderr, ctx)), 1 when a file
 * cannot be read or a key set ("prog: why"). kv stays the caller's either way. */
typedef struct rk_config_flag {
    const char *flag;           /* "-n" */
    const char *key;            /* "namesrvAddr" */
} rk_config_flag_t;
int rk_config_args(const char *prog, int argc, char **argv, const rk_config_flag_t *flags, rk_kv_t *kv,
                   const char **file, bool *print, void (*usage)(FILE *f, const void *ctx), const void *ctx);
/* A program's `-h` lines for one table: "  key  help (default d)", the key padded to width
 * columns, "-" where there is no default. */
void rk_config_usage(const rk_config_field_t *fields, int width, FILE *out);

/* ---- typos: "brokerNmae" -> did you mean brokerName? ---- */

/* Edit distance between a and b (insert, delete, substitute, swap two
 * neighbours; ASCII case ignored). Keys longer than 128 bytes are not
 * compared: returns SIZE_MAX. */
size_t rk_edit_distance(const char *a, const char *b);
/* The key of the tables (a NULL-terminated list of field tables) that
 * `key` is most likely a typo of — at most 1 edit for keys up to 4 bytes,
 * 2 up to 12, 3 beyond — or NULL. */
const char *rk_config_suggest(const rk_config_field_t *const *tables, const char *key);
/* Like rk_kv_warn_unused, with "did you mean X?" from the tables when a
 * known key is close. Call it before serving, so the warning comes before
 * the start-up line. Returns how many keys were unknown. */
int rk_kv_warn_unused_suggest(const rk_kv_t *kv, const char *module, const rk_config_field_t *const *tables);

/* Parses an integer with an optional k/m/g suffix; RK_EINVAL if not one. */
int rk_parse_int(const char *s, int64_t *out);
int rk_parse_bool(const char *s, bool *out);

#endif
