/* static.c - safe resolution of web client files and their MIME types. */
#include "static.h"

#include "gatehouse/err.h"
#include "gatehouse/mem.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
gh_static_resolve(const char *root_real, const char *uri, char **out)
{
    size_t ulen = strlen(uri), rlen = strlen(root_real), i;
    char *joined, *real;
    struct stat st;

    *out = NULL;
    if (uri[0] != '/' || ulen > GH_STATIC_PATH_MAX)
        return GH_E_INVAL;
    for (i = 0; i < ulen; i++) {
        if (uri[i] == '\\' || (unsigned char)uri[i] < 0x20)
            return GH_E_INVAL;
        /* No hidden files, no "..": any segment starting with a dot. */
        if (uri[i] == '/' && uri[i + 1] == '.')
            return GH_E_INVAL;
    }
    joined = gh_asprintf("%s%s%s", root_real, uri,
                         uri[ulen - 1] == '/' ? "index.html" : "");
    real = realpath(joined, NULL);
    free(joined);
    if (real == NULL)
        return GH_E_NOTFOUND;
    /* realpath resolved symlinks: the result must still be inside. */
    if (strncmp(real, root_real, rlen) != 0 || real[rlen] != '/' ||
        stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        free(real);
        return GH_E_NOTFOUND;
    }
    *out = real;
    return 0;
}

const char *
gh_static_mime(const char *path)
{
    static const struct {
        const char *ext, *mime;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
        {".wasm", "application/wasm"},
        {".map", "application/json"},
        {".cast", "application/x-asciicast"},
    };
    const char *dot = strrchr(path, '.');
    size_t i;

    if (dot != NULL && strchr(dot, '/') == NULL)
        for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].mime;
    return "application/octet-stream";
}
