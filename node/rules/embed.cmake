# embed.cmake - writes the starter rule set into a C source (run by the build:
#   cmake -DRULES_DIR=... -DOUT=... -P embed.cmake).
# Each node/rules/*.rules file becomes one rules_source {name, text, len} of
# rules_builtin[] (node/rules.h), in file-name order, as byte arrays so no string
# literal length limit applies.
file(GLOB files RELATIVE ${RULES_DIR} ${RULES_DIR}/*.rules)
list(SORT files)
set(body "/* Generated from the .rules files of node/rules/ by node/rules/embed.cmake; do not edit. */\n")
string(APPEND body "#include \"rules.h\"\n\n")
set(table "")
set(i 0)
foreach(f IN LISTS files)
  file(READ ${RULES_DIR}/${f} hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n"
                       bytes "${bytes}")
  string(APPEND body "static const char rules_text_${i}[] = {\n${bytes}0x00};\n")
  string(APPEND table "    {\"${f}\", rules_text_${i}, ${len}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "\nconst rules_source rules_builtin[] = {\n${table}    {NULL, NULL, 0},\n};\n")
string(APPEND body "const size_t rules_builtin_count = ${i};\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
