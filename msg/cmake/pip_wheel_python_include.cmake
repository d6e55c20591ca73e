# Build-time fix-up for ROS 2 from the PyPI wheels only. The Makefile passes it as
#   -DCMAKE_PROJECT_centerpose_msgs_INCLUDE=msg/cmake/pip_wheel_python_include.cmake
#   -DCENTERPOSE_PYTHON_INCLUDE_DIR=<sysconfig include> -DCENTERPOSE_NUMPY_INCLUDE_DIR=<numpy.get_include()>
# A colcon build on a normal ROS 2 install never reads this file.
#
# Why: the wheels' exported CMake targets (e.g. std_msgs::std_msgs__rosidl_generator_py) name the
# Python and NumPy include directories of the machine that built them, under
# /opt/python/cp311-cp311/. CMake refuses to generate when an imported target names a directory
# that does not exist. At the end of configuration this rewrites exactly those missing
# /opt/python/... entries to this interpreter's directories, leaves all other entries untouched,
# and stops with an error for any other missing /opt/python path (so a new quirk is seen, not hidden).

foreach(var CENTERPOSE_PYTHON_INCLUDE_DIR CENTERPOSE_NUMPY_INCLUDE_DIR)
  if(NOT ${var} OR NOT IS_DIRECTORY "${${var}}")
    message(FATAL_ERROR "${var} must name an existing directory (got '${${var}}')")
  endif()
endforeach()

function(centerpose_fix_wheel_python_includes)
  get_directory_property(imported_targets IMPORTED_TARGETS)
  set(fixed "")
  foreach(target IN LISTS imported_targets)
    get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT dirs)
      continue()
    endif()
    set(new_dirs "")
    set(changed FALSE)
    foreach(dir IN LISTS dirs)
      if(NOT dir MATCHES "^/opt/python/" OR EXISTS "${dir}")
        list(APPEND new_dirs "${dir}")
      elseif(dir MATCHES "^/opt/python/[^/]+/include/python[0-9.]+$")
        list(APPEND new_dirs "${CENTERPOSE_PYTHON_INCLUDE_DIR}")
        set(changed TRUE)
      elseif(dir MATCHES "/site-packages/numpy/(_core/)?include$")
        list(APPEND new_dirs "${CENTERPOSE_NUMPY_INCLUDE_DIR}")
        set(changed TRUE)
      else()
        message(FATAL_ERROR "${target} names a missing include directory this fix-up does not know: ${dir}")
      endif()
    endforeach()
    if(changed)
      list(REMOVE_DUPLICATES new_dirs)
      set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${new_dirs}")
      list(APPEND fixed ${target})
    endif()
  endforeach()
  message(STATUS "pip-wheel fix-up: replaced /opt/python include directories in: ${fixed}")
endfunction()

cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL centerpose_fix_wheel_python_includes)
