/*
 * llhttp_llhttp.c - compiles llhttp's llhttp.c from Debian's node-llhttp
 * ($(LLHTTP_SRCDIR), default /usr/share/llhttp) into libllhttp_src.a.
 * Third-party code: built without our warning flags. See Makefile.am.
 */
#include <llhttp.c>
