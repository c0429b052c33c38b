#include "at/families.h"

const struct at_cmd at_family_network_ec25[] = {
        {0},
};

const struct at_cmd at_family_network_m95[] = {
        {0},
};
