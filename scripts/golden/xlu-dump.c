/*
 * xlu-dump: reads an xl.cfg with Xen's own parser (libxlutil, the code inside `xl`) and prints
 * what it read as JSON, so tests can compare xenkit's parser and renderer with the real one.
 *
 *   xlu-dump FILE KEY...        {"KEY": "string" | [ ... ] | null, ...}
 *   xlu-dump --disk FILE KEY    the disk specs of list KEY through xlu_disk_parse:
 *                               [{"target","format","vdev","access","cdrom"}, ...]
 *
 * Parse errors go to stderr in libxlu's words; the exit status is then 1.
 * Build: gcc -o xlu-dump xlu-dump.c -lxlutil -lxenlight   (Debian: libxen-dev)
 */
#include <stdio.h>
#include <string.h>
#include <libxl.h>
#include <libxlutil.h>

static void print_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static void print_value(XLU_Config *cfg, XLU_ConfigValue *value) {
    if (xlu_cfg_value_type(value) == XLU_STRING) {
        char *s;
        xlu_cfg_value_get_string(cfg, value, &s, 1);
        print_string(s);
        return;
    }
    XLU_ConfigList *list;
    xlu_cfg_value_get_list(cfg, value, &list, 1);
    putchar('[');
    XLU_ConfigValue *item;
    for (int i = 0; (item = xlu_cfg_get_listitem2(list, i)); i++) {
        if (i) putchar(',');
        print_value(cfg, item);
    }
    putchar(']');
}

static const char *format_name(libxl_disk_format f) {
    return libxl_disk_format_to_string(f);
}

int main(int argc, char **argv) {
    int disk_mode = argc > 1 && !strcmp(argv[1], "--disk");
    int first = disk_mode ? 2 : 1;
    if (argc < first + 1) {
        fprintf(stderr, "usage: xlu-dump [--disk] FILE KEY...\n");
        return 2;
    }
    XLU_Config *cfg = xlu_cfg_init(stderr, argv[first]);
    if (!cfg || xlu_cfg_readfile(cfg, argv[first])) return 1;

    if (disk_mode) {
        XLU_ConfigList *list;
        int n = 0;
        if (argc < first + 2 || xlu_cfg_get_list(cfg, argv[first + 1], &list, &n, 0)) return 1;
        putchar('[');
        for (int i = 0; i < n; i++) {
            const char *spec = xlu_cfg_get_listitem(list, i);
            libxl_device_disk disk;
            libxl_device_disk_init(&disk);
            if (!spec || xlu_disk_parse(cfg, 1, &spec, &disk)) return 1;
            if (i) putchar(',');
            printf("{\"target\":");
            print_string(disk.pdev_path ? disk.pdev_path : "");
            printf(",\"format\":\"%s\",\"vdev\":", format_name(disk.format));
            print_string(disk.vdev ? disk.vdev : "");
            printf(",\"access\":\"%s\",\"cdrom\":%s}", disk.readwrite ? "rw" : "ro", disk.is_cdrom ? "true" : "false");
            libxl_device_disk_dispose(&disk);
        }
        printf("]\n");
        return 0;
    }

    putchar('{');
    for (int k = first + 1; k < argc; k++) {
        if (k > first + 1) putchar(',');
        print_string(argv[k]);
        putchar(':');
        XLU_ConfigList *list;
        const char *s;
        if (!xlu_cfg_get_string(cfg, argv[k], &s, 1)) {
            print_string(s);
        } else if (!xlu_cfg_get_list(cfg, argv[k], &list, NULL, 1)) {
            putchar('[');
            XLU_ConfigValue *item;
            for (int i = 0; (item = xlu_cfg_get_listitem2(list, i)); i++) {
                if (i) putchar(',');
                print_value(cfg, item);
            }
            putchar(']');
        } else {
            printf("null");
        }
    }
    printf("}\n");
    xlu_cfg_destroy(cfg);
    return 0;
}
