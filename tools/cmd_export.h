/* tools/cmd_export.h — `cai export`, dispatched from cai.c. */
#ifndef CAI_TOOLS_CMD_EXPORT_H
#define CAI_TOOLS_CMD_EXPORT_H

/* export MODEL --format uai|fg [-o|--out FILE] [--temperature ALPHA]
 * [--horizon T]: argv holds the arguments after "export". Returns the exit
 * status (cli.h). */
int cmd_export(int argc, char **argv);

#endif
