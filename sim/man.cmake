# Make modemsim.1 from `modemsim --help` (help2man's idea, without the dependency): the usage
# line, the one-line description, then the rest verbatim in a no-fill block, escaped for roff.
#   cmake -DBIN=path/to/modemsim -DOUT=modemsim.1 -DVERSION=x.y.z -P man.cmake
execute_process(COMMAND "${BIN}" --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BIN} --help failed (${rc})")
endif()
string(REPLACE "\\" "\\e" help "${help}")
string(REPLACE "-" "\\-" help "${help}")
string(REGEX REPLACE "\n([.'])" "\n\\\\&\\1" help "${help}")
string(REGEX MATCH "^[^\n]*\n([^\n]*)\n\n?" head "${help}")
set(description "${CMAKE_MATCH_1}")
string(LENGTH "${head}" skip)
string(SUBSTRING "${help}" ${skip} -1 body) # (REGEX REPLACE would apply ^ again and again)
file(WRITE "${OUT}" ".\\\" Generated from `modemsim --help` by sim/man.cmake; do not edit.
.TH MODEMSIM 1 \"\" \"modemsim ${VERSION}\" \"User Commands\"
.SH NAME
modemsim \\- make a cellular modem appear on a pseudo\\-terminal
.SH SYNOPSIS
.B modemsim
[\\fIOPTION\\fR]...
.SH DESCRIPTION
${description}
.SH OPTIONS
.nf
${body}.fi
.SH FILES
.nf
<prefix>/share/modemsim/scenarios   the bundled scenarios (*.scn) and their README.md
<prefix>/share/modemsim/certs/gen.sh  the test PKI generator, run on first use into
                                    $XDG_CACHE_HOME/modemsim/certs (~/.cache/modemsim/certs)
.fi
.SH SEE ALSO
README.md and scenarios/README.md in the source tree.
")
