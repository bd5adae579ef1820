/* embed: the files of web/ built into the binary, so that tix serves its own pages with nothing
 * installed beside it and no build step but this one (the assembler's .incbin copies each file
 * as it is). Each file gives two symbols, its first byte and the byte after its last; the table
 * in assets.c names them. The Makefile rebuilds this object when a file of web/ changes. */
#define WEB_ASSET(sym, path)                                                                       \
    .global sym;                                                                                   \
    .balign 16;                                                                                    \
    sym:;                                                                                          \
    .incbin path;                                                                                  \
    .global sym##_end;                                                                             \
    sym##_end:;                                                                                    \
    .byte 0

    .section .rodata
WEB_ASSET(web__index_html, "web/index.html")
WEB_ASSET(web__app_js, "web/app.js")
WEB_ASSET(web__app_css, "web/app.css")
WEB_ASSET(web__admin_html, "web/admin.html")
WEB_ASSET(web__admin_js, "web/admin.js")
WEB_ASSET(web__admin_css, "web/admin.css")
WEB_ASSET(web__openapi_json, "docs/openapi.json")

    .section .note.GNU-stack, "", @progbits
