#include "at/families.h"

const struct at_cmd at_family_pdp_ec25[] = {
        {0},
};

const struct at_cmd at_family_pdp_m95[] = {
        {0},
};
