"""What a clinician reviews: the HTML report (``report`` assembles ``collect``, ``summaries``,
``sections``, ``tables``, ``html``, ``template`` and ``plots``) and the patient's ``diary``."""
