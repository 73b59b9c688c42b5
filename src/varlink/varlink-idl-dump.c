/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prints patela's varlink interface definitions in varlink IDL, for the IDL round-trip test
 * (varlinkctl validate-idl, and comparison with what a running daemon's introspection returns). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.patela.Attest.h"
#include "io.patela.Config.h"
#include "io.patela.Keys.h"

static const sd_varlink_interface *const interfaces[] = {
        &vl_interface_io_patela_Attest,
        &vl_interface_io_patela_Config,
        &vl_interface_io_patela_Keys,
};

int main(int argc, char *argv[]) {
        for (size_t i = 0; i < sizeof(interfaces) / sizeof(interfaces[0]); i++) {
                if (argc > 1 && strcmp(argv[1], interfaces[i]->name) != 0)
                        continue;
                if (sd_varlink_idl_dump(stdout, interfaces[i], 0, SIZE_MAX) < 0)
                        return EXIT_FAILURE;
                return EXIT_SUCCESS;
        }
        fprintf(stderr, "Unknown interface.\n");
        return EXIT_FAILURE;
}
