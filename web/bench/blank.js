// A page that runs one module script and nothing else.
performance.mark('dualauth-handled');
document.body.dataset.ready = 'true';
