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
WEB_ASSET(web__api_js, "web/api.js")
WEB_ASSET(web__bookings_js, "web/bookings.js")
WEB_ASSET(web__canvasmap_js, "web/canvasmap.js")
WEB_ASSET(web__connection_js, "web/connection.js")
WEB_ASSET(web__dom_js, "web/dom.js")
WEB_ASSET(web__eventpage_js, "web/eventpage.js")
WEB_ASSET(web__identity_js, "web/identity.js")
WEB_ASSET(web__live_js, "web/live.js")
WEB_ASSET(web__mapworker_js, "web/mapworker.js")
WEB_ASSET(web__messages_js, "web/messages.js")
WEB_ASSET(web__notices_js, "web/notices.js")
WEB_ASSET(web__seatmap_js, "web/seatmap.js")
WEB_ASSET(web__seatpicker_js, "web/seatpicker.js")
WEB_ASSET(web__svgmap_js, "web/svgmap.js")
WEB_ASSET(web__admin_html, "web/admin.html")
WEB_ASSET(web__admin_js, "web/admin.js")
WEB_ASSET(web__admin_css, "web/admin.css")
WEB_ASSET(web__openapi_json, "docs/openapi.json")

    .section .note.GNU-stack, "", @progbits
