Attribute VB_Name = "ssfr_xl"
' ssfr-xl buttons for Excel (optional). Requires: pip install "ssfr-xl[xlwings]" and the
' xlwings add-in (xlwings addin install). Import this module into a macro-enabled *control*
' workbook or your Personal Macro Workbook - never into the district or school .xlsx files,
' which stay macro-free.

Option Explicit

' Recompute the active district workbook with the Python engine and list the result
' on an "Engine Check" sheet. Save the district workbook first.
Public Sub CheckAllocationsWithPython()
    RunPython "import ssfr_xl.xl; ssfr_xl.xl.check_allocations()"
End Sub
